#include "writer_output.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "gguf/gguf_value.h"

namespace ds4::gguf::detail {

void MemoryOutput::write(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    dst_.insert(dst_.end(), p, p + n);
}

namespace {
constexpr size_t kBufferBytes = 8u << 20;  // few large write() calls; small next to tensor sizes
}

AtomicFileOutput::AtomicFileOutput(std::string path) : path_(std::move(path)), tmp_(path_ + ".tmp") {
    fd_ = ::open(tmp_.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd_ < 0) fail("cannot create");
    buf_.resize(kBufferBytes);
}

AtomicFileOutput::~AtomicFileOutput() {
    if (fd_ >= 0) {
        ::close(fd_);
        ::unlink(tmp_.c_str());
    }
}

void AtomicFileOutput::fail(const char* what) const {
    throw Error(tmp_ + ": " + what + ": " + std::strerror(errno));
}

void AtomicFileOutput::flush() {
    size_t done = 0;
    while (done < used_) {
        const ssize_t w = ::write(fd_, buf_.data() + done, used_ - done);
        if (w < 0) {
            if (errno == EINTR) continue;
            fail("write failed");
        }
        done += static_cast<size_t>(w);
    }
    used_ = 0;
}

void AtomicFileOutput::write(const void* data, size_t n) {
    const auto* p = static_cast<const uint8_t*>(data);
    while (n > 0) {
        const size_t k = std::min(n, buf_.size() - used_);
        std::memcpy(buf_.data() + used_, p, k);
        used_ += k;
        p += k;
        n -= k;
        if (used_ == buf_.size()) flush();
    }
}

void AtomicFileOutput::commit() {
    flush();
    if (::fsync(fd_) != 0) fail("fsync failed");
    const int fd = fd_;
    fd_ = -1;
    if (::close(fd) != 0) {
        const int e = errno;
        ::unlink(tmp_.c_str());
        errno = e;
        fail("close failed");
    }
    if (::rename(tmp_.c_str(), path_.c_str()) != 0) {
        const int e = errno;
        ::unlink(tmp_.c_str());
        throw Error(path_ + ": cannot rename " + tmp_ + " into place: " + std::strerror(e));
    }
}

}  // namespace ds4::gguf::detail
