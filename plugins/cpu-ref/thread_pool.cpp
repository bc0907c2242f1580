// ThreadPool (kernel.h): persistent workers with a static partition.
//
// parallel_for(n, min_chunk, fn) cuts [0, n) into c = min(threads, max(1, n / min_chunk))
// contiguous ranges [n·i/c, n·(i+1)/c); range 0 runs on the calling thread and range i on
// worker i. The cut depends only on (n, min_chunk, threads) and kernels never reduce across
// ranges, so every output element is computed by the same code in the same order whatever
// the thread count.
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "kernel.h"

namespace ds4::cpuref {
namespace {
thread_local bool t_inside_pool_task = false;  // nested parallel_for runs inline
}

struct ThreadPool::Impl {
    std::vector<std::thread> workers;
    std::mutex mutex;
    std::condition_variable start_cv, done_cv;
    uint64_t generation = 0;
    bool stopping = false;
    // The job of the current generation.
    const std::function<void(int64_t, int64_t)>* fn = nullptr;
    int64_t n = 0;
    int chunks = 0;
    int pending = 0;
    std::exception_ptr error;

    void run_chunk(int i) {
        int64_t begin = n * i / chunks, end = n * (i + 1) / chunks;
        if (begin >= end) return;
        t_inside_pool_task = true;
        try {
            (*fn)(begin, end);
        } catch (...) {
            std::lock_guard<std::mutex> lock(mutex);
            if (!error) error = std::current_exception();
        }
        t_inside_pool_task = false;
    }

    void worker_main(int index) {
        uint64_t seen = 0;
        for (;;) {
            {
                std::unique_lock<std::mutex> lock(mutex);
                start_cv.wait(lock, [&] { return stopping || generation != seen; });
                if (stopping) return;
                seen = generation;
                if (index >= chunks) continue;  // not part of this job
            }
            run_chunk(index);
            std::lock_guard<std::mutex> lock(mutex);
            if (--pending == 0) done_cv.notify_one();
        }
    }
};

ThreadPool::ThreadPool(int n_threads) : impl_(new Impl), n_threads_(n_threads < 1 ? 1 : n_threads) {
    for (int i = 1; i < n_threads_; ++i) impl_->workers.emplace_back([this, i] { impl_->worker_main(i); });
}

ThreadPool::~ThreadPool() {
    {
        std::lock_guard<std::mutex> lock(impl_->mutex);
        impl_->stopping = true;
    }
    impl_->start_cv.notify_all();
    for (auto& w : impl_->workers) w.join();
    delete impl_;
}

void ThreadPool::parallel_for(int64_t n, int64_t min_chunk, const std::function<void(int64_t, int64_t)>& fn) {
    if (n <= 0) return;
    if (min_chunk < 1) min_chunk = 1;
    int64_t chunks = n / min_chunk;
    if (chunks > n_threads_) chunks = n_threads_;
    if (chunks <= 1 || t_inside_pool_task) {
        fn(0, n);
        return;
    }
    Impl& p = *impl_;
    {
        std::lock_guard<std::mutex> lock(p.mutex);
        p.fn = &fn;
        p.n = n;
        p.chunks = static_cast<int>(chunks);
        p.pending = p.chunks - 1;
        p.error = nullptr;
        ++p.generation;
    }
    p.start_cv.notify_all();
    p.run_chunk(0);
    std::exception_ptr error;
    {
        std::unique_lock<std::mutex> lock(p.mutex);
        p.done_cv.wait(lock, [&] { return p.pending == 0; });
        error = p.error;
        p.error = nullptr;
    }
    if (error) std::rethrow_exception(error);
}

}  // namespace ds4::cpuref
