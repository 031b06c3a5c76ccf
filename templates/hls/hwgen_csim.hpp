// hwgen: C simulation of a DATAFLOW region as the hardware runs it (static header; C simulation only: synthesis
// never sees it, hwgen_common.hpp includes it under #ifndef __SYNTHESIS__).
//
// Vitis HLS's own C simulation runs the processes of a DATAFLOW region one after another on unbounded
// hls::stream objects: a FIFO depth cannot deadlock it and is never checked. Co-simulation and the hardware run
// the processes concurrently, every stream a FIFO of its `#pragma HLS STREAM depth`. Here:
//   hwgen::csim::stream<T>  a FIFO of a fixed depth (0: unbounded, for a testbench's ports); a read of an empty
//                           stream or a write to a full one blocks the calling process.
//   hwgen::csim::Region     runs processes concurrently: one coroutine each, scheduled cooperatively on the
//                           calling thread. A process runs until it blocks; the processes its read or write has
//                           unblocked are queued in order, and a blocked process switches straight to the first of
//                           them. Deterministic (no threads, no timing), and cheap: a blocked access costs one
//                           context switch (a few ns with the hand-written x86-64 switch below; ucontext on other
//                           machines, ~1 us because swapcontext saves the signal mask).
// When every unfinished process is blocked the region has deadlocked: run() returns false and error() names each
// blocked process, the stream it waits on, and whether that stream is full or empty (name, producer -> consumer,
// depth, words held). A hang is impossible: every wait is on a stream, and a wait nobody can end is a deadlock.
// Templates name the stream type hwgen::stream<T>: hls::stream<T> in synthesis, csim::stream<T> here.
//
// A process of a free-running (ap_ctrl_none) region restarts on its own as soon as it returns, so a Region runs
// each process's invocations back to back (the caller's lambda loops over them).
#ifndef HWGEN_CSIM_HPP
#define HWGEN_CSIM_HPP
#ifndef __SYNTHESIS__

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <functional>
#include <string>
#include <vector>

#if !defined(__x86_64__) || defined(HWGEN_CSIM_UCONTEXT)
#include <ucontext.h>
#define HWGEN_CSIM_USE_UCONTEXT 1
#endif

namespace hwgen {
namespace csim {

// ------------------------------------------------------------------------------------------- context switch
#ifndef HWGEN_CSIM_USE_UCONTEXT
// x86-64 System V: push the callee-saved registers, MXCSR and the x87 control word on the current stack, store
// the stack pointer in *save_sp, load load_sp and pop the same from it. A new coroutine's stack is laid out as
// if it had switched out just before the trampoline (make_stack). COMDAT sections: several translation units of
// one library (hwgen_top.cpp, hwgen_dma_top.cpp) each carry a copy; the linker keeps one.
extern "C" void hwgen_csim_switch(void** save_sp, void* load_sp);
extern "C" void hwgen_csim_trampoline();
__asm__(
    ".pushsection .text.hwgen_csim_switch,\"axG\",@progbits,hwgen_csim_switch,comdat\n"
    ".weak hwgen_csim_switch\n"
    ".hidden hwgen_csim_switch\n"
    ".type hwgen_csim_switch,@function\n"
    "hwgen_csim_switch:\n"
    "  pushq %rbp\n"
    "  pushq %rbx\n"
    "  pushq %r12\n"
    "  pushq %r13\n"
    "  pushq %r14\n"
    "  pushq %r15\n"
    "  subq $8, %rsp\n"
    "  stmxcsr (%rsp)\n"
    "  fnstcw 4(%rsp)\n"
    "  movq %rsp, (%rdi)\n"
    "  movq %rsi, %rsp\n"
    "  ldmxcsr (%rsp)\n"
    "  fldcw 4(%rsp)\n"
    "  addq $8, %rsp\n"
    "  popq %r15\n"
    "  popq %r14\n"
    "  popq %r13\n"
    "  popq %r12\n"
    "  popq %rbx\n"
    "  popq %rbp\n"
    "  ret\n"
    ".size hwgen_csim_switch, .-hwgen_csim_switch\n"
    ".popsection\n"
    ".pushsection .text.hwgen_csim_trampoline,\"axG\",@progbits,hwgen_csim_trampoline,comdat\n"
    ".weak hwgen_csim_trampoline\n"
    ".hidden hwgen_csim_trampoline\n"
    ".type hwgen_csim_trampoline,@function\n"
    "hwgen_csim_trampoline:\n"  // first entry: r12 = argument, r13 = function; rsp is 16-byte aligned here
    "  movq %r12, %rdi\n"
    "  callq *%r13\n"
    "  ud2\n"  // the function never returns: it switches away for good
    ".size hwgen_csim_trampoline, .-hwgen_csim_trampoline\n"
    ".popsection\n");
#endif

struct Process;
class StreamBase;

// Coroutine stacks: mmap'd with a guard page below (an overflow faults instead of corrupting memory), pages
// committed only when touched, kept for the thread's next region (unmapped when the thread ends).
enum { STACK_BYTES = 16 << 20, POOLED_STACKS = 64 };

inline size_t page_bytes() { return (size_t)sysconf(_SC_PAGESIZE); }

struct StackPool {
    std::vector<char*> free;
    ~StackPool() {
        for (size_t i = 0; i < free.size(); i++) munmap(free[i] - page_bytes(), STACK_BYTES + page_bytes());
    }
};

inline StackPool& stack_pool() {
    static thread_local StackPool pool;
    return pool;
}

inline char* get_stack() {
    std::vector<char*>& pool = stack_pool().free;
    if (!pool.empty()) {
        char* s = pool.back();
        pool.pop_back();
        return s;
    }
    const size_t page = page_bytes();
    void* m = mmap(0, STACK_BYTES + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) {
        fprintf(stderr, "hwgen csim: cannot map a %d MB coroutine stack\n", STACK_BYTES >> 20);
        abort();
    }
    mprotect(m, page, PROT_NONE);
    return (char*)m + page;
}

inline void put_stack(char* s) {
    if (stack_pool().free.size() < POOLED_STACKS) stack_pool().free.push_back(s);
    else munmap(s - page_bytes(), STACK_BYTES + page_bytes());
}

// The message of the last failure of the calling thread (a run's error, a deadlock's account).
inline std::string& message() {
    static thread_local std::string m;
    return m;
}

// The FIFOs a deadlock says to deepen (comma-separated stream names), for FIFO sizing (hwgen/sim/csim.py).
inline std::string& to_deepen() {
    static thread_local std::string m;
    return m;
}

// Run-time FIFO depths (C simulation only): stream i of a region gets depths()[i] when that is set (non-zero),
// else the depth it was generated with. FIFO sizing tries depths without recompiling.
inline std::vector<unsigned>& depths() {
    static thread_local std::vector<unsigned> d;
    return d;
}
inline unsigned depth_of(unsigned i, unsigned generated) {
    return (i < depths().size() && depths()[i]) ? depths()[i] : generated;
}

class Region;

struct Process {
    std::string name;
    std::function<void()> body;
    Region* region;
    char* stack;
#ifdef HWGEN_CSIM_USE_UCONTEXT
    ucontext_t ctx;
#else
    void* sp;
#endif
    bool done;
    bool queued;
    const StreamBase* wait;  // the stream it is blocked on (null: runnable or done)
    bool wait_write;         // blocked writing a full stream (else reading an empty one)
    Process* next;           // ready queue link
};

// The region the calling thread is running, and its running process (null outside a region).
inline Region*& current_region() {
    static thread_local Region* r = 0;
    return r;
}

// ---------------------------------------------------------------------------------------------------- streams
// The part of a stream the scheduler and the deadlock message need.
class StreamBase {
   public:
    std::string name, src, dst;   // src / dst: the processes the design connects (for messages)
    unsigned depth;               // 0: unbounded
    unsigned long words_per_call; // words one invocation of the producer writes (0: not checked)
    unsigned long written;        // words written since construction
    Process* reader_waiting;
    Process* writer_waiting;
    StreamBase(const std::string& n, unsigned d, const std::string& s, const std::string& t, unsigned long w)
        : name(n), src(s), dst(t), depth(d), words_per_call(w), written(0), reader_waiting(0), writer_waiting(0) {}
    virtual ~StreamBase() {}
    virtual unsigned long held() const = 0;
    std::string describe() const;  // "s (a -> b, depth 2)"
   protected:
    void block(bool write);  // the calling process waits until the stream changes
    void wake_reader();
    void wake_writer();
};

template <typename T>
class stream : public StreamBase {
   public:
    stream() : StreamBase("", 0, "", "", 0), buf_(16), head_(0), count_(0) {}
    explicit stream(const char* name, unsigned depth = 0, const char* src = "", const char* dst = "",
                    unsigned long words_per_call = 0)
        : StreamBase(name, depth, src, dst, words_per_call), buf_(depth ? depth : 16), head_(0), count_(0) {}

    T read() {
        while (count_ == 0) block(false);
        T v = buf_[head_];
        if (++head_ == buf_.size()) head_ = 0;
        --count_;
        if (writer_waiting) wake_writer();
        return v;
    }
    void read(T& v) { v = read(); }
    void operator>>(T& v) { v = read(); }
    bool read_nb(T& v) {
        if (count_ == 0) return false;
        v = read();
        return true;
    }

    void write(const T& v) {
        if (depth == 0) {
            if (count_ == buf_.size()) grow();
        } else {
            while (count_ >= depth) block(true);
        }
        size_t tail = head_ + count_;
        if (tail >= buf_.size()) tail -= buf_.size();
        buf_[tail] = v;
        ++count_;
        ++written;
        if (reader_waiting) wake_reader();
    }
    void operator<<(const T& v) { write(v); }
    bool write_nb(const T& v) {
        if (depth != 0 && count_ >= depth) return false;
        write(v);
        return true;
    }

    bool empty() const { return count_ == 0; }
    bool full() const { return depth != 0 && count_ >= depth; }
    unsigned size() const { return (unsigned)count_; }
    unsigned long held() const { return count_; }

   private:
    stream(const stream&);
    stream& operator=(const stream&);
    void grow() {
        std::vector<T> b(buf_.size() * 2);
        for (size_t i = 0; i < count_; i++) b[i] = buf_[(head_ + i) % buf_.size()];
        buf_.swap(b);
        head_ = 0;
    }
    std::vector<T> buf_;  // a ring of `depth` words
    size_t head_, count_;
};

// ------------------------------------------------------------------------------------------------- the region
class Region {
   public:
    explicit Region(const std::string& name) : name_(name), running_(0), head_(0), tail_(0), outer_(0) {}
    ~Region() {
        for (size_t i = 0; i < procs_.size(); i++) {
            if (procs_[i]->stack) put_stack(procs_[i]->stack);
            delete procs_[i];
        }
    }

    // A process of the region; `body` runs all its invocations (it is started by run()).
    void process(const std::string& name, const std::function<void()>& body) {
        Process* p = new Process();
        p->name = name;
        p->body = body;
        p->region = this;
        p->stack = 0;
        p->done = false;
        p->queued = false;
        p->wait = 0;
        p->wait_write = false;
        p->next = 0;
        procs_.push_back(p);
    }

    // Runs every process to its end. Returns false on a deadlock (error() says which processes wait on what).
    bool run() {
        if (current_region()) {
            error_ = "a DATAFLOW region was started inside another one (nested regions are not simulated)";
            return false;
        }
        current_region() = this;
        to_deepen().clear();
        for (size_t i = 0; i < procs_.size(); i++) start(procs_[i]);
        for (size_t i = 0; i < procs_.size(); i++) enqueue(procs_[i]);
        while (Process* p = pop()) {  // back here only when no process is ready (all done, or a deadlock)
            running_ = p;
            resume(p);
            running_ = 0;
        }
        current_region() = 0;
        for (size_t i = 0; i < procs_.size(); i++) {
            if (!procs_[i]->done) {
                error_ = deadlock_message();
                return false;
            }
        }
        return true;
    }

    const std::string& error() const { return error_; }
    // The region's streams (for the deadlock message: which process feeds which).
    void track(const StreamBase& s) { streams_.push_back(&s); }
    const Process* find(const std::string& name) const {
        for (size_t i = 0; i < procs_.size(); i++)
            if (procs_[i]->name == name) return procs_[i];
        return 0;
    }
    size_t unfinished() const {
        size_t n = 0;
        for (size_t i = 0; i < procs_.size(); i++) n += !procs_[i]->done;
        return n;
    }
    size_t blocked_on(const StreamBase* s) const {
        size_t n = 0;
        for (size_t i = 0; i < procs_.size(); i++) n += !procs_[i]->done && procs_[i]->wait == s;
        return n;
    }
    const std::vector<Process*>& processes() const { return procs_; }
    Process* running() const { return running_; }

    // From a stream: the running process waits on s; back when the stream has changed.
    void block(const StreamBase* s, bool write) {
        Process* p = running_;
        p->wait = s;
        p->wait_write = write;
        suspend(p);
        p->wait = 0;
    }
    void wake(Process* p) {
        if (p && !p->queued && !p->done) enqueue(p);
    }

   private:
    Process* pop() {
        Process* p = head_;
        if (p) {
            head_ = p->next;
            if (!head_) tail_ = 0;
            p->queued = false;
        }
        return p;
    }
    // The running process p stops (blocked or done): straight to the next ready process, one switch (not two
    // through the scheduler); to the scheduler when none is ready.
    void suspend(Process* p) {
        Process* next = pop();
        running_ = next;
        if (next) switch_to(p, next);
        else leave(p);
    }

    void enqueue(Process* p) {
        p->queued = true;
        p->next = 0;
        if (tail_) tail_->next = p;
        else head_ = p;
        tail_ = p;
    }

    static void entry(void* arg) {
        Process* p = (Process*)arg;
        p->body();
        p->done = true;
        p->region->suspend(p);  // never resumed again
        abort();
    }

#ifdef HWGEN_CSIM_USE_UCONTEXT
    static void uentry(unsigned hi, unsigned lo) {
        entry((void*)(((uintptr_t)hi << 32) | (uintptr_t)lo));
    }
    void start(Process* p) {
        p->stack = get_stack();
        getcontext(&p->ctx);
        p->ctx.uc_stack.ss_sp = p->stack;
        p->ctx.uc_stack.ss_size = STACK_BYTES;
        p->ctx.uc_link = 0;
        const uintptr_t a = (uintptr_t)p;
        makecontext(&p->ctx, (void (*)())uentry, 2, (unsigned)(a >> 32), (unsigned)(a & 0xffffffffu));
    }
    void resume(Process* p) { swapcontext(&outer_ctx_, &p->ctx); }
    void switch_to(Process* p, Process* next) { swapcontext(&p->ctx, &next->ctx); }
    void leave(Process* p) { swapcontext(&p->ctx, &outer_ctx_); }
    ucontext_t outer_ctx_;
#else
    void start(Process* p) {
        p->stack = get_stack();
        uintptr_t top = ((uintptr_t)p->stack + STACK_BYTES) & ~(uintptr_t)15;
        uint64_t* s = (uint64_t*)top;
        s[-1] = (uint64_t)(uintptr_t)&hwgen_csim_trampoline;  // popped by `ret`: rsp is then 16-byte aligned
        s[-2] = 0;                                              // rbp
        s[-3] = 0;                                              // rbx
        s[-4] = (uint64_t)(uintptr_t)p;                         // r12: the trampoline's argument
        s[-5] = (uint64_t)(uintptr_t)&Region::entry;            // r13: the function it calls
        s[-6] = 0;                                              // r14
        s[-7] = 0;                                              // r15
        s[-8] = 0x1F80ull | (0x037Full << 32);                  // MXCSR and x87 control word: the defaults
        p->sp = (void*)&s[-8];
    }
    void resume(Process* p) { hwgen_csim_switch(&outer_, p->sp); }
    void switch_to(Process* p, Process* next) { hwgen_csim_switch(&p->sp, next->sp); }
    void leave(Process* p) { hwgen_csim_switch(&p->sp, outer_); }
#endif

    std::string deadlock_message() const;

    std::string name_;
    std::vector<Process*> procs_;
    std::vector<const StreamBase*> streams_;
    Process* running_;
    Process* head_;
    Process* tail_;
    void* outer_;
    std::string error_;
};

inline std::string StreamBase::describe() const {
    std::string s = name + " (" + (src.empty() ? std::string("?") : src) + " -> " + (dst.empty() ? std::string("?") : dst);
    if (depth) s += ", depth " + std::to_string(depth);
    return s + ")";
}

inline void StreamBase::block(bool write) {
    Region* r = current_region();
    if (!r || !r->running()) {
        fprintf(stderr, "hwgen csim: %s of stream %s outside a DATAFLOW region: it would wait forever\n",
                write ? "write to the full" : "read of the empty", describe().c_str());
        abort();
    }
    if (write) writer_waiting = r->running();
    else reader_waiting = r->running();
    r->block(this, write);
}

inline void StreamBase::wake_reader() {
    Process* p = reader_waiting;
    reader_waiting = 0;
    current_region()->wake(p);
}

inline void StreamBase::wake_writer() {
    Process* p = writer_waiting;
    writer_waiting = 0;
    current_region()->wake(p);
}

inline std::string Region::deadlock_message() const {
    std::string m = "deadlock in the DATAFLOW region " + name_ + ": every unfinished process is blocked:";
    std::vector<const StreamBase*> full;  // streams a process waits to write
    for (size_t i = 0; i < procs_.size(); i++) {
        const Process* p = procs_[i];
        if (p->done) continue;
        m += "\n  " + p->name;
        if (!p->wait) {
            m += " is not blocked on a stream (internal error)";
            continue;
        }
        const StreamBase* s = p->wait;
        if (p->wait_write) {
            m += " waits to write stream " + s->describe() + ": full, " + std::to_string(s->held()) + " words";
            full.push_back(s);
        } else {
            m += " waits to read stream " + s->describe() + ": empty";
        }
    }
    // A join waiting on an empty input while another of its inputs is full: the branch that stream is on holds
    // what the join cannot take yet, and its FIFO must hold more. Walk that branch up from the join through the
    // processes with one input and one output that wait on a full stream (a width converter on the branch), up
    // to the fork (several outputs: above it both branches share the FIFOs).
    std::string deepen, why, deepen_names;
    for (size_t i = 0; i < full.size(); i++) {
        const Process* join = find(full[i]->dst);
        if (!join || join->done || !join->wait || join->wait_write) continue;
        why += (why.empty() ? "" : "; ") + join->name + " waits for data on stream " + join->wait->name +
               " while stream " + full[i]->name + " is full";
        for (const StreamBase* b = full[i]; b;) {
            deepen += (deepen.empty() ? "'" : ", '") + b->name + "'";
            deepen_names += (deepen_names.empty() ? "" : ",") + b->name;
            const Process* q = find(b->src);
            const StreamBase* in = 0;
            size_t ins = 0, outs = 0;
            for (size_t k = 0; k < streams_.size(); k++) {
                outs += streams_[k]->src == b->src;
                if (streams_[k]->dst == b->src) {
                    ins++;
                    in = streams_[k];
                }
            }
            const bool more = q && q->wait == b && ins == 1 && outs == 1 && in->depth && in->held() >= in->depth;
            b = more ? in : 0;
        }
    }
    to_deepen() = deepen_names;
    if (!deepen.empty()) {
        m += "\n" + why + ": the FIFO on that branch is too shallow for what the other branch holds back; deepen " +
             "the FIFO of stream " + deepen;
    } else if (!full.empty()) {
        m += "\nfull: ";
        for (size_t i = 0; i < full.size(); i++) m += (i ? ", '" : "'") + full[i]->name + "'";
    }
    return m;
}

// ------------------------------------------------------------------------------------------------ run results
// Return codes of a C-simulation entry point (hwgen/sim/csim.py names them); the message of the last failure of
// the calling thread in message().
enum {
    OK = 0,
    OUTPUT_SHORT = 1,      // the design produced fewer output words than expected
    OUTPUT_LONG = 2,       // ... more
    TLAST_MISPLACED = 3,   // TLAST not exactly on the last output word of a frame
    INPUT_LEFT = 4,        // the design did not consume all input words
    STREAM_LEFT = 5,       // data left in an internal stream after the last frame
    STREAM_SHORT = 6,      // a stream carried other than one frame per invocation of its producer
    DEADLOCK = 7,          // every unfinished process blocked
};


inline int fail(int code, const std::string& m) {
    message() = m;
    return code;
}


// After a run that deadlocked: a consumer waiting on a stream whose producer has returned from its last
// invocation means the producer wrote too few words (STREAM_SHORT, named); otherwise a deadlock.
inline int deadlock(const Region& r) {
    for (size_t i = 0; i < r.processes().size(); i++) {
        const Process* p = r.processes()[i];
        if (p->done || !p->wait || p->wait_write) continue;
        const StreamBase* s = p->wait;
        const Process* q = r.find(s->src);
        if (q && q->done)
            return fail(STREAM_SHORT, "stream " + s->describe() + ": " + s->src + " returned from its last " +
                                          "invocation after writing " + std::to_string(s->written) + " words (" +
                                          std::to_string(s->words_per_call) + " per invocation), " + p->name +
                                          " waits for more\n" + r.error());
    }
    return fail(DEADLOCK, r.error());
}

// After a run that ended: the stream is empty and carried words_per_call words per invocation.
inline int check_drained(const StreamBase& s, unsigned long calls) {
    const std::string carried = std::to_string(s.written) + " words in " + std::to_string(calls) +
                                " invocation(s), " + std::to_string(s.words_per_call) + " per invocation";
    if (s.held())
        return fail(STREAM_LEFT, "stream " + s.describe() + " holds " + std::to_string(s.held()) +
                                     " words after the last invocation (it carried " + carried + ")");
    if (s.words_per_call && s.written != s.words_per_call * calls)
        return fail(STREAM_SHORT, "stream " + s.describe() + " carried " + carried);
    return OK;
}

}  // namespace csim
}  // namespace hwgen

#endif  // __SYNTHESIS__
#endif
