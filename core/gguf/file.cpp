// File lifetime: mapping the file read-only and releasing it.
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "gguf/gguf_file.h"

namespace ds4::gguf {

void parse_file(File& f);  // file_parse.cpp

namespace {
[[noreturn]] void sys_fail(const std::string& path, const char* what) {
    throw Error(path + ": " + what + ": " + std::strerror(errno));
}
}  // namespace

File File::open(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) sys_fail(path, "cannot open");
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
        const int e = errno;
        ::close(fd);
        errno = e;
        sys_fail(path, "cannot stat");
    }
    if (!S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error(path + ": not a regular file");
    }
    File f;
    f.name_ = path;
    f.size_ = static_cast<uint64_t>(st.st_size);
    if (f.size_ > 0) {
        // MAP_PRIVATE + PROT_READ: weights are read in place, never written back.
        void* p = ::mmap(nullptr, static_cast<size_t>(f.size_), PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
            const int e = errno;
            ::close(fd);
            errno = e;
            sys_fail(path, "mmap failed");
        }
        f.map_ = p;
        f.map_size_ = static_cast<size_t>(f.size_);
        f.base_ = static_cast<const uint8_t*>(p);
    }
    ::close(fd);  // the mapping keeps the file alive
    parse_file(f);
    return f;
}

File File::open_memory(const uint8_t* data, size_t size, std::string name) {
    File f;
    f.name_ = std::move(name);
    f.base_ = data;
    f.size_ = data ? size : 0;
    parse_file(f);
    return f;
}

File::File(File&& o) noexcept { *this = std::move(o); }

File& File::operator=(File&& o) noexcept {
    if (this == &o) return *this;
    release();
    // string_views (keys, names, strings) point into the mapping, which does not move.
    name_ = std::move(o.name_);
    base_ = o.base_;
    size_ = o.size_;
    map_ = o.map_;
    map_size_ = o.map_size_;
    version_ = o.version_;
    alignment_ = o.alignment_;
    data_offset_ = o.data_offset_;
    kvs_ = std::move(o.kvs_);
    kv_index_ = std::move(o.kv_index_);
    tensors_ = std::move(o.tensors_);
    tensor_index_ = std::move(o.tensor_index_);
    o.base_ = nullptr;
    o.size_ = 0;
    o.map_ = nullptr;
    o.map_size_ = 0;
    o.kvs_.clear();
    o.kv_index_.clear();
    o.tensors_.clear();
    o.tensor_index_.clear();
    return *this;
}

File::~File() { release(); }

void File::release() noexcept {
    if (map_) ::munmap(map_, map_size_);
    map_ = nullptr;
    map_size_ = 0;
}

}  // namespace ds4::gguf
