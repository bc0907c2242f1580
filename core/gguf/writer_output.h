// Internal: where the writer's bytes go — a file written atomically (tmp + rename) or memory.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace ds4::gguf::detail {

class Output {
public:
    virtual ~Output() = default;
    virtual void write(const void* data, size_t n) = 0;
};

class MemoryOutput final : public Output {
public:
    explicit MemoryOutput(std::vector<uint8_t>& dst) : dst_(dst) {}
    void write(const void* data, size_t n) override;

private:
    std::vector<uint8_t>& dst_;
};

// Writes "<path>.tmp" through a buffer; commit() flushes, fsyncs and renames it to `path`.
// Destroying it without commit() removes the temporary, so no half file is ever left.
class AtomicFileOutput final : public Output {
public:
    explicit AtomicFileOutput(std::string path);
    ~AtomicFileOutput() override;
    AtomicFileOutput(const AtomicFileOutput&) = delete;
    AtomicFileOutput& operator=(const AtomicFileOutput&) = delete;

    void write(const void* data, size_t n) override;
    void commit();

private:
    void flush();
    [[noreturn]] void fail(const char* what) const;

    std::string path_;
    std::string tmp_;
    int fd_ = -1;
    std::vector<uint8_t> buf_;
    size_t used_ = 0;
};

}  // namespace ds4::gguf::detail
