#include "parallel.h"

#include <devrt/c_api.h>

#include <pthread.h>
#include <sched.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <exception>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace devrt_cpu {
namespace detail {
namespace {

thread_local bool t_in_parallel = false;

// Pieces per thread: a worker that wakes late costs at most one small piece.
constexpr int64_t kPiecesPerThread = 4;
// Waking a sleeping thread can take tens of microseconds (more in VMs), so a
// worker spins a while for the next job (kernels come in bursts) and the
// caller spins for the last pieces, before either sleeps.
constexpr auto kWorkerSpin = std::chrono::microseconds(100);
constexpr auto kCallerSpin = std::chrono::microseconds(50);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Spins until pred() or `limit` has passed; returns pred().
template <typename Pred, typename Duration>
bool spin_until(Pred pred, Duration limit) {
  const auto deadline = std::chrono::steady_clock::now() + limit;
  for (;;) {
    for (int i = 0; i < 64; ++i) {
      if (pred())
        return true;
      cpu_relax();
    }
    if (std::chrono::steady_clock::now() > deadline)
      return pred();
  }
}

int64_t thread_cpu_ns() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return int64_t{t.tv_sec} * 1000000000 + t.tv_nsec;
}

int64_t wall_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Note: on a machine shared with other work, the pool's threads share its
// CPUs too: a worker may wait for its CPU while the caller runs, or take
// turns with the caller on one CPU, and then a job's pieces run one after
// another at a fork-join's cost (on two busy cores the Deep MNIST graph
// step took 170 ms on two threads and 125 ms on one). So the pool measures
// what it gets: per job, the CPU time its threads spent in pieces less the
// job's wall time, the time they ran at once. While the average of that
// overlap is positive, jobs use the workers; otherwise the next ones run on
// the caller alone, and then a probe of kProbe jobs tries the workers
// again (its first job wakes them and is not counted): a probe with
// overlap goes back to the workers, one without doubles the solo run
// (kSoloMin to kSoloMax jobs).
class Overlap {
public:
  bool solo() {
    if (solo_left_ == 0)
      return false;
    --solo_left_;
    if (solo_left_ == 0)
      probe_left_ = kProbe;
    return true;
  }
  void add(int64_t overlap_ns) {
    const double o = static_cast<double>(overlap_ns);
    if (probe_left_ > 0) {
      if (probe_left_-- < kProbe)
        probe_sum_ += o;
      if (probe_left_ > 0)
        return;
      const bool helps = probe_sum_ > 0;
      average_ = probe_sum_ / (kProbe - 1);
      probe_sum_ = 0;
      if (helps) {
        solo_run_ = kSoloMin;
      } else {
        solo_run_ = std::min(solo_run_ * 2, kSoloMax);
        solo_left_ = solo_run_;
      }
      return;
    }
    average_ += (o - average_) * kWeight;
    if (average_ <= 0)
      solo_left_ = solo_run_;
  }

private:
  static constexpr double kWeight = 0.25;
  static constexpr int64_t kProbe = 8, kSoloMin = 16, kSoloMax = 256;
  double average_ = 0;     // ns the threads ran at once, per job
  double probe_sum_ = 0;   // the same, summed over a probe
  int64_t solo_left_ = 0;  // jobs still to run on the caller alone
  int64_t probe_left_ = 0; // jobs of the probe still to run
  int64_t solo_run_ = kSoloMin;
};

// Note: one job at a time. A caller publishes the job under m_ and bumps
// generation_; workers that wake join it (joined_), claim pieces and leave.
// A new job is only published once joined_ is back to zero, so a worker
// never claims a piece of one job with the function of another.
//
// Each participant has a seat (the caller 0, worker k seat k + 1) that owns
// a contiguous run of the pieces: the caller takes the first part of every
// range, each worker always the same later part, and claims its own pieces
// before it takes what is left of the others'. So successive loops over the
// same data find each part in the cache of the core that touched it last
// (a GEMM split in bands, then an elementwise pass over its output); with
// the pieces handed out in turn from one counter, the caller and the worker
// took alternate quarters and moved every cache line of a 400 KB update
// between the cores' caches, in it and in the next GEMM. A late worker
// still costs nothing: the others finish its pieces.
class Pool {
public:
  bool run(int64_t n, int64_t grain, RangeFn fn, void *ctx) {
    std::unique_lock<std::mutex> use(use_, std::try_to_lock);
    if (!use.owns_lock())
      return false;
    const int64_t threads = devrt_num_threads();
    const int64_t pieces =
        std::min(threads * kPiecesPerThread, (n + grain - 1) / grain);
    if (pieces <= 1)
      return false;
    grow(static_cast<int>(threads - 1));
    make_room_for_caller(); // also for a solo job: the next may use them
    if (overlap_.solo())
      return false;

    const int seats = static_cast<int>(std::min(threads, pieces));
    {
      std::unique_lock<std::mutex> lk(m_);
      left_cv_.wait(lk, [&] { return joined_ == 0; });
      fn_ = fn;
      ctx_ = ctx;
      n_ = n;
      pieces_ = pieces;
      piece_size_ = (n + pieces - 1) / pieces;
      seats_ = seats;
      if (seats > capacity_) {
        runs_ = std::make_unique<Run[]>(static_cast<size_t>(seats));
        capacity_ = seats;
      }
      for (int k = 0; k < seats; ++k) {
        runs_[k].next.store(pieces * k / seats, std::memory_order_relaxed);
        runs_[k].end = pieces * (k + 1) / seats;
      }
      done_.store(0, std::memory_order_relaxed);
      worker_cpu_.store(0, std::memory_order_relaxed);
      error_ = nullptr;
      generation_.fetch_add(1, std::memory_order_release);
    }
    wake_cv_.notify_all();

    const int64_t start = wall_ns();
    const int64_t own = work(0, fn, ctx, n, pieces, seats, piece_size_, false);

    auto finished = [&] {
      return done_.load(std::memory_order_acquire) == pieces;
    };
    spin_until(finished, kCallerSpin);
    std::unique_lock<std::mutex> lk(m_);
    left_cv_.wait(lk, finished);
    overlap_.add(own + worker_cpu_.load(std::memory_order_relaxed) -
                 (wall_ns() - start));
    if (error_) {
      std::exception_ptr e = error_;
      error_ = nullptr;
      std::rethrow_exception(e);
    }
    return true;
  }

private:
  // The pieces a seat owns: [next, end) of what is left to claim.
  struct alignas(64) Run {
    std::atomic<int64_t> next{0};
    int64_t end = 0;
  };

  // Runs the pieces of seat `seat`, then those left in the other seats';
  // returns the thread's CPU time in them (ns). A worker adds each piece's
  // to worker_cpu_ before counting it done, so that the caller reads all of
  // it once every piece is.
  int64_t work(int seat, RangeFn fn, void *ctx, int64_t n, int64_t pieces,
               int seats, int64_t piece_size, bool worker) {
    t_in_parallel = true;
    const int64_t start = thread_cpu_ns();
    int64_t last = start;
    for (int k = 0; k < seats; ++k) {
      Run &run = runs_[(seat + k) % seats];
      for (;;) {
        if (run.next.load(std::memory_order_relaxed) >= run.end)
          break;
        const int64_t p = run.next.fetch_add(1, std::memory_order_relaxed);
        if (p >= run.end)
          break;
        const int64_t b = p * piece_size;
        const int64_t e = std::min(n, b + piece_size);
        try {
          if (b < e)
            fn(ctx, b, e);
        } catch (...) {
          std::lock_guard<std::mutex> lk(m_);
          if (!error_)
            error_ = std::current_exception();
        }
        if (worker) {
          const int64_t now = thread_cpu_ns();
          worker_cpu_.fetch_add(now - last, std::memory_order_relaxed);
          last = now;
        }
        if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == pieces) {
          std::lock_guard<std::mutex> lk(m_);
          left_cv_.notify_all();
        }
      }
    }
    t_in_parallel = false;
    return worker ? last - start : thread_cpu_ns() - start;
  }

  void worker(int seat) {
    uint64_t seen = 0;
    auto published = [&] {
      return generation_.load(std::memory_order_acquire) != seen;
    };
    for (;;) {
      spin_until(published, kWorkerSpin);
      std::unique_lock<std::mutex> lk(m_);
      wake_cv_.wait(lk, published);
      seen = generation_.load(std::memory_order_acquire);
      if (seat >= seats_)
        continue;
      ++joined_;
      const RangeFn fn = fn_;
      void *const ctx = ctx_;
      const int64_t n = n_, pieces = pieces_, piece_size = piece_size_;
      const int seats = seats_;
      lk.unlock();
      work(seat, fn, ctx, n, pieces, seats, piece_size, true);
      lk.lock();
      if (--joined_ == 0)
        left_cv_.notify_all();
    }
  }

  // Note: each worker is pinned to a CPU of its own, and the pool keeps one
  // CPU free for the caller. Unpinned, a woken worker tends to be queued on
  // the waking caller's CPU (the cache-affine choice) and waits there while
  // the other CPU idles, so a split GEMM ran at one core's speed. The caller
  // itself is never pinned, and after a pause the scheduler may well put it
  // on a worker's CPU (the two then take turns until the load balancer
  // moves one, tens of milliseconds later); so each job starts by checking
  // where the caller runs and, if a worker holds that CPU, swapping that
  // worker onto the free one.

  // The k-th CPU the process may use, or -1.
  static int allowed_cpu(int k) {
    cpu_set_t allowed;
    if (pthread_getaffinity_np(pthread_self(), sizeof allowed, &allowed) != 0)
      return -1;
    const int count = CPU_COUNT(&allowed);
    if (count < 2)
      return -1;
    int want = k % count;
    for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
      if (CPU_ISSET(cpu, &allowed) && want-- == 0)
        return cpu;
    return -1;
  }

  static void pin(pthread_t t, int cpu) {
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    pthread_setaffinity_np(t, sizeof one, &one);
  }

  // Called with use_ held.
  void grow(int workers) {
    if (workers_ == 0)
      free_cpu_ = allowed_cpu(0);
    while (workers_ < workers) {
      const int seat = workers_ + 1;
      std::thread t([this, seat] { worker(seat); });
      // More workers than CPUs wrap around; none is pinned to the caller's.
      int cpu = free_cpu_ < 0 ? -1 : allowed_cpu(workers_ + 1);
      if (cpu == free_cpu_)
        cpu = -1;
      if (cpu >= 0)
        pin(t.native_handle(), cpu);
      handles_.push_back(t.native_handle());
      cpus_.push_back(cpu);
      t.detach();
      ++workers_;
    }
  }

  // Called with use_ held.
  void make_room_for_caller() {
    if (free_cpu_ < 0)
      return;
    const int here = sched_getcpu();
    if (here < 0 || here == free_cpu_)
      return;
    for (size_t k = 0; k < cpus_.size(); ++k)
      if (cpus_[k] == here) {
        pin(handles_[k], free_cpu_);
        cpus_[k] = free_cpu_;
        free_cpu_ = here;
        return;
      }
  }

  std::mutex use_; // one parallel_for on the pool at a time
  std::mutex m_;   // guards the job below
  std::condition_variable wake_cv_, left_cv_;
  std::atomic<uint64_t> generation_{0};
  RangeFn fn_ = nullptr;
  void *ctx_ = nullptr;
  int64_t n_ = 0, pieces_ = 0, piece_size_ = 0;
  int seats_ = 0;  // the caller and the workers with a seat below this
  int joined_ = 0; // workers inside this job
  std::unique_ptr<Run[]> runs_; // per seat, capacity_ of them
  int capacity_ = 0;
  std::atomic<int64_t> done_{0};
  std::atomic<int64_t> worker_cpu_{0}; // the workers' CPU time in this job
  Overlap overlap_;                    // guarded by use_
  std::exception_ptr error_;
  int workers_ = 0;
  // Placement, guarded by use_: each worker's thread and CPU (-1: unpinned),
  // and the CPU left to the caller (-1: pinning is off).
  std::vector<pthread_t> handles_;
  std::vector<int> cpus_;
  int free_cpu_ = -1;
};

// Note: the pool is never destroyed (its detached workers may outlive static
// destruction). A forked child has none of the parent's threads, so it drops
// the inherited pool and builds its own on first use.
std::atomic<Pool *> g_pool{nullptr};

void forget_pool_in_child() { g_pool.store(nullptr); }

Pool &pool() {
  Pool *p = g_pool.load(std::memory_order_acquire);
  if (p)
    return *p;
  static std::once_flag atfork_once;
  std::call_once(atfork_once, [] {
    pthread_atfork(nullptr, nullptr, forget_pool_in_child);
  });
  Pool *fresh = new Pool;
  if (!g_pool.compare_exchange_strong(p, fresh)) {
    delete fresh;
    return *p;
  }
  return *fresh;
}

} // namespace

bool run_on_pool(int64_t n, int64_t grain, RangeFn fn, void *ctx) {
  if (t_in_parallel || devrt_num_threads() <= 1)
    return false;
  return pool().run(n, std::max<int64_t>(grain, 1), fn, ctx);
}

} // namespace detail
} // namespace devrt_cpu
