#include "host/device.h"

#include "host/status.h"

namespace ds4::host {

Buffer& Buffer::operator=(Buffer&& o) noexcept {
    if (this != &o) {
        reset();
        dev_ = std::exchange(o.dev_, nullptr);
        buf_ = std::exchange(o.buf_, nullptr);
        size_ = std::exchange(o.size_, 0);
    }
    return *this;
}

void Buffer::reset() {
    if (buf_ && dev_) dev_->table().buffer_free(buf_);
    buf_ = nullptr;
    size_ = 0;
}

void Buffer::write(uint64_t offset, const void* src, uint64_t size) {
    check(dev_->table().buffer_write(buf_, offset, src, size), dev_->plugin().name() + ": buffer_write");
}

void Buffer::read(uint64_t offset, void* dst, uint64_t size) const {
    check(dev_->table().buffer_read(buf_, offset, dst, size), dev_->plugin().name() + ": buffer_read");
}

Plan& Plan::operator=(Plan&& o) noexcept {
    if (this != &o) {
        reset();
        dev_ = std::exchange(o.dev_, nullptr);
        plan_ = std::exchange(o.plan_, nullptr);
    }
    return *this;
}

void Plan::submit() {
    check(dev_->table().plan_submit(plan_), dev_->plugin().name() + ": plan_submit");
}

void Plan::reset() {
    if (plan_ && dev_) dev_->table().plan_destroy(plan_);
    plan_ = nullptr;
}

Device::Device(const Plugin& plugin, uint32_t index,
               const std::vector<std::pair<std::string, std::string>>& options)
    : plugin_(plugin), index_(index) {
    std::vector<ds4_option> opts;
    for (auto& kv : options) opts.push_back({kv.first.c_str(), kv.second.c_str()});
    uint32_t n = table().device_count(table().self);
    if (index >= n)
        throw Error(plugin.name() + ": device " + std::to_string(index) + " does not exist (" +
                    std::to_string(n) + " device(s))");
    check(table().device_open(table().self, index, opts.data(), static_cast<uint32_t>(opts.size()), &dev_),
          plugin.name() + ": device_open");
}

Device::~Device() {
    if (dev_) table().device_close(dev_);
}

ds4_device_info Device::info() const {
    ds4_device_info info{};
    info.struct_size = sizeof(info);
    check(table().device_info(table().self, index_, &info), plugin_.name() + ": device_info");
    return info;
}

Buffer Device::alloc(uint64_t size, uint32_t usage) const {
    ds4_buffer* buf = nullptr;
    check(table().buffer_alloc(dev_, size, usage, &buf),
          plugin_.name() + ": buffer_alloc(" + std::to_string(size) + " bytes)");
    return Buffer(this, buf, size);
}

Buffer Device::wrap_or_upload(void* ptr, uint64_t size, uint32_t usage, bool* copied) const {
    if (table().buffer_wrap_host) {
        ds4_buffer* buf = nullptr;
        ds4_status* st = table().buffer_wrap_host(dev_, ptr, size, usage, &buf);
        if (!st) {
            if (copied) *copied = false;
            return Buffer(this, buf, size);
        }
        status_free(st);  // fall back to a copy
    }
    Buffer b = alloc(size, usage);
    b.write(0, ptr, size);
    if (copied) *copied = true;
    return b;
}

Plan Device::create_plan(const ds4_graph& graph) const {
    ds4_plan* plan = nullptr;
    check(table().plan_create(dev_, &graph, &plan), plugin_.name() + ": plan_create");
    return Plan(this, plan);
}

bool Device::node_supported(const ds4_node& node) const { return table().node_supported(dev_, &node) != 0; }

void Device::synchronize() const { check(table().synchronize(dev_), plugin_.name() + ": synchronize"); }

std::string describe_backends(const std::vector<std::string>& dirs) {
    std::string out;
    auto candidates = PluginLoader::scan(dirs);
    if (candidates.empty()) {
        out += "no backend plugins found in:";
        for (auto& d : dirs) out += " " + d;
        return out + "\n";
    }
    for (auto& c : candidates) {
        try {
            auto p = PluginLoader::load_file(c.path);
            const ds4_plugin& t = p->table();
            out += p->name() + "\n";
            out += "  path:    " + c.path + "\n";
            out += "  abi:     " + std::to_string(t.abi_major) + "." + std::to_string(t.abi_minor) +
                   "  (plugin version " + std::string(t.version ? t.version : "?") + ")\n";
            out += "  score:   " + std::to_string(p->score()) + (p->score() > 0 ? "" : " (cannot run here)") + "\n";
            uint32_t nd = t.device_count(t.self);
            for (uint32_t i = 0; i < nd; ++i) {
                ds4_device_info info{};
                info.struct_size = sizeof(info);
                ds4_status* st = t.device_info(t.self, i, &info);
                if (st) {
                    status_free(st);
                    continue;
                }
                out += "  device " + std::to_string(i) + ": " + (info.name ? info.name : "?");
                if (info.memory_total)
                    out += ", " + std::to_string(info.memory_total >> 20) + " MiB";
                if (info.unified_memory) out += ", unified memory";
                out += "\n";
            }
            for (int tier = 0; tier <= 1; ++tier) {
                out += tier == 0 ? "  tier-0:  " : "  tier-1:  ";
                bool any = false;
                for (uint32_t op : ops_of_tier(tier)) {
                    if (!p->claims(op)) continue;
                    out += std::string(any ? " " : "") + op_name(op);
                    any = true;
                }
                out += any ? "\n" : "(none: decomposed into tier-0 by core)\n";
            }
        } catch (const std::exception& e) {
            out += c.name + "\n  refused: " + e.what() + "\n";
        }
    }
    return out;
}

}  // namespace ds4::host
