// C++ handles over the plugin ABI: an opened device, its buffers and plans (RAII).
// Every call checks the returned status and throws ds4::Error with a message naming the
// plugin and the call.
#pragma once
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ds4/backend.h"
#include "host/plugin_loader.h"

namespace ds4::host {

class Device;

class Buffer {
public:
    Buffer() = default;
    Buffer(const Device* dev, ds4_buffer* buf, uint64_t size) : dev_(dev), buf_(buf), size_(size) {}
    ~Buffer() { reset(); }
    Buffer(Buffer&& o) noexcept { *this = std::move(o); }
    Buffer& operator=(Buffer&& o) noexcept;

    ds4_buffer* get() const { return buf_; }
    uint64_t size() const { return size_; }
    void write(uint64_t offset, const void* src, uint64_t size);
    void read(uint64_t offset, void* dst, uint64_t size) const;
    void reset();

private:
    const Device* dev_ = nullptr;
    ds4_buffer* buf_ = nullptr;
    uint64_t size_ = 0;
};

class Plan {
public:
    Plan() = default;
    Plan(const Device* dev, ds4_plan* plan) : dev_(dev), plan_(plan) {}
    ~Plan() { reset(); }
    Plan(Plan&& o) noexcept { *this = std::move(o); }
    Plan& operator=(Plan&& o) noexcept;

    void submit();
    void reset();
    explicit operator bool() const { return plan_ != nullptr; }

private:
    const Device* dev_ = nullptr;
    ds4_plan* plan_ = nullptr;
};

class Device {
public:
    // Opens device `index` of the plugin with key/value options (e.g. {"threads","4"}).
    Device(const Plugin& plugin, uint32_t index,
           const std::vector<std::pair<std::string, std::string>>& options = {});
    ~Device();
    Device(const Device&) = delete;
    Device& operator=(const Device&) = delete;

    const Plugin& plugin() const { return plugin_; }
    const ds4_plugin& table() const { return plugin_.table(); }
    ds4_device* get() const { return dev_; }
    ds4_device_info info() const;

    Buffer alloc(uint64_t size, uint32_t usage) const;
    // Wraps host memory without copying when the plugin supports it; otherwise allocates and
    // uploads a copy. `copied` tells which happened.
    Buffer wrap_or_upload(void* ptr, uint64_t size, uint32_t usage, bool* copied = nullptr) const;
    Plan create_plan(const ds4_graph& graph) const;
    bool node_supported(const ds4_node& node) const;
    void synchronize() const;

private:
    const Plugin& plugin_;
    uint32_t index_ = 0;
    ds4_device* dev_ = nullptr;
};

// All backends the loader can see, for --list-backends: one human-readable block per plugin.
std::string describe_backends(const std::vector<std::string>& dirs);

}  // namespace ds4::host
