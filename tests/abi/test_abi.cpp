// The plugin ABI seen from the host: cpu-ref's exported symbols, version/op negotiation
// (fake plugins), and cpu-ref's devices, buffers, options and fault injection.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <algorithm>
#include <cstring>
#include <functional>
#include <memory>
#include <set>
#include <sstream>
#include <string>

#include "host/device.h"
#include "host/graph.h"
#include "host/plugin_loader.h"
#include "host/status.h"

namespace ds4::host {
namespace {

const std::string kCpuRef = std::string(DS4_PLUGIN_DIR) + "/libds4-backend-cpu-ref.so";
const std::string kAbiMajor = std::string(DS4_TEST_PLUGIN_DIR) + "/libds4-backend-test-abi-major.so";
const std::string kMissingOp = std::string(DS4_TEST_PLUGIN_DIR) + "/libds4-backend-test-missing-op.so";

TEST(Symbols, CpuRefExportsExactlyTheTwoEntryPoints) {
    std::string nm = DS4_NM;
    if (nm.empty()) GTEST_SKIP() << "nm not found at configure time";
    FILE* p = popen((nm + " -D --defined-only " + kCpuRef + " 2>&1").c_str(), "r");
    ASSERT_NE(p, nullptr);
    std::set<std::string> symbols;
    char line[1024];
    while (std::fgets(line, sizeof(line), p)) {
        std::istringstream ss(line);
        std::string addr, kind, name;
        if (!(ss >> addr >> kind >> name)) continue;
        // Linker-provided markers are not part of the interface.
        if (name == "_init" || name == "_fini" || name == "__bss_start" || name == "_edata" || name == "_end") continue;
        symbols.insert(name);
    }
    ASSERT_EQ(pclose(p), 0);
    EXPECT_EQ(symbols, (std::set<std::string>{"ds4_plugin_init", "ds4_plugin_score"}));
}

TEST(Negotiation, CpuRefLoadsAndClaimsEveryTier0Op) {
    auto p = PluginLoader::load_file(kCpuRef);
    EXPECT_EQ(p->name(), "cpu-ref");
    EXPECT_EQ(p->score(), 1);
    EXPECT_EQ(p->table().abi_major, uint32_t(DS4_ABI_MAJOR));
    for (uint32_t op : ops_of_tier(0)) EXPECT_TRUE(p->claims(op)) << op_name(op);
}

void expect_one_line_refusal(const std::string& path, std::initializer_list<std::string> needles, ds4_status_code code) {
    try {
        PluginLoader::load_file(path);
        FAIL() << path << " was accepted";
    } catch (const Error& e) {
        std::string m = e.what();
        EXPECT_EQ(m.find('\n'), std::string::npos) << m;
        EXPECT_NE(m.find(path), std::string::npos) << m;
        for (auto& n : needles) EXPECT_NE(m.find(n), std::string::npos) << "missing '" << n << "' in: " << m;
        EXPECT_EQ(e.code(), code);
    }
}

TEST(Negotiation, NewerAbiMajorIsRefusedNamingBothVersions) {
    expect_one_line_refusal(kAbiMajor,
                            {"plugin ABI " + std::to_string(DS4_ABI_MAJOR + 1) + ".0",
                             "host ABI " + std::to_string(DS4_ABI_MAJOR) + "." + std::to_string(DS4_ABI_MINOR)},
                            DS4_ERR_ABI_MISMATCH);
}

TEST(Negotiation, MissingTier0OpIsRefusedNamingTheOp) {
    expect_one_line_refusal(kMissingOp, {"missing Tier-0 op 'topk'"}, DS4_ERR_UNSUPPORTED);
}

TEST(Negotiation, CpuRefRefusesAnotherHostMajorButReportsItsVersion) {
    void* h = dlopen(kCpuRef.c_str(), RTLD_NOW | RTLD_LOCAL);
    ASSERT_NE(h, nullptr) << dlerror();
    auto init = reinterpret_cast<ds4_plugin_init_fn>(dlsym(h, DS4_PLUGIN_INIT_SYMBOL));
    ASSERT_NE(init, nullptr);
    ds4_host_api api = *host_api();
    api.abi_major = DS4_ABI_MAJOR + 1;
    ds4_plugin table{};
    table.struct_size = sizeof(table);
    ds4_status* st = init(&api, &table);
    ASSERT_NE(st, nullptr);
    EXPECT_EQ(st->code, DS4_ERR_ABI_MISMATCH);
    EXPECT_NE(st->message.find("host has ABI " + std::to_string(DS4_ABI_MAJOR + 1)), std::string::npos) << st->message;
    EXPECT_EQ(table.abi_major, uint32_t(DS4_ABI_MAJOR));
    EXPECT_EQ(table.device_open, nullptr);  // nothing else filled
    status_free(st);
    dlclose(h);
}

class CpuRef : public ::testing::Test {
protected:
    static void SetUpTestSuite() { plugin_ = PluginLoader::load_file(kCpuRef).release(); }
    static void TearDownTestSuite() {
        delete plugin_;
        plugin_ = nullptr;
    }
    static Plugin* plugin_;
};
Plugin* CpuRef::plugin_ = nullptr;

TEST_F(CpuRef, DeviceInfo) {
    Device dev(*plugin_, 0);
    ds4_device_info info = dev.info();
    EXPECT_STREQ(info.name, "cpu");
    EXPECT_EQ(info.unified_memory, 1u);
    EXPECT_GT(info.memory_total, 0u);
    EXPECT_EQ(plugin_->table().device_count(plugin_->table().self), 1u);
}

TEST_F(CpuRef, UnknownOptionIsRefusedNamingTheKey) {
    try {
        Device dev(*plugin_, 0, {{"threads", "2"}, {"bogus_key", "1"}});
        FAIL() << "accepted an unknown option";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("'bogus_key'"), std::string::npos) << e.what();
        EXPECT_EQ(e.code(), DS4_ERR_INVALID_ARGUMENT);
    }
    EXPECT_THROW(Device(*plugin_, 0, {{"threads", "0"}}), Error);
    EXPECT_THROW(Device(*plugin_, 0, {{"threads", "many"}}), Error);
    EXPECT_THROW(Device(*plugin_, 0, {{"inject_fault", "submit"}}), Error);
    EXPECT_THROW(Device(*plugin_, 0, {{"inject_fault", "reboot:1"}}), Error);
    EXPECT_THROW(Device(*plugin_, 1), Error);
}

TEST_F(CpuRef, AbsurdAllocationIsOutOfMemory) {
    Device dev(*plugin_, 0);
    try {
        dev.alloc(uint64_t(1) << 62, DS4_BUFFER_WEIGHTS);
        FAIL() << "allocated 2^62 bytes";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), DS4_ERR_OUT_OF_MEMORY) << e.what();
    }
    // The device still works afterwards.
    Buffer b = dev.alloc(100, DS4_BUFFER_SCRATCH);
    EXPECT_NE(b.get(), nullptr);
}

TEST_F(CpuRef, BuffersAreZeroedAndBoundsChecked) {
    Device dev(*plugin_, 0);
    for (uint64_t size : {uint64_t(1000), uint64_t(3) << 20}) {  // heap and mapped paths
        Buffer b = dev.alloc(size, DS4_BUFFER_SCRATCH);
        std::vector<uint8_t> data(size, 0xFF);
        b.read(0, data.data(), size);
        EXPECT_EQ(std::count(data.begin(), data.end(), 0), static_cast<long>(size));
        uint8_t x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
        b.write(size - 8, x, 8);
        uint8_t y[8] = {};
        b.read(size - 8, y, 8);
        EXPECT_EQ(std::memcmp(x, y, 8), 0);
        EXPECT_THROW(b.write(size - 7, x, 8), Error);
        EXPECT_THROW(b.read(~uint64_t(0) - 2, y, 8), Error);  // offset + size overflows
    }
    std::vector<uint8_t> host(256, 7);
    bool copied = true;
    Buffer w = dev.wrap_or_upload(host.data(), host.size(), DS4_BUFFER_WEIGHTS, &copied);
    EXPECT_FALSE(copied);
    uint8_t v = 0;
    w.read(10, &v, 1);
    EXPECT_EQ(v, 7);
}

// A one-node plan: y = x·2 on 4 floats.
struct ScalePlan {
    Buffer buf;
    Plan plan;
    ScalePlan(const Device& dev) {
        buf = dev.alloc(32, DS4_BUFFER_SCRATCH);
        float x[4] = {1, 2, 3, 4};
        buf.write(0, x, 16);
        auto g = std::make_unique<Graph>();
        auto* a = g->tensor(DS4_TYPE_F32, {4}, buf.get(), 0);
        auto* y = g->tensor(DS4_TYPE_F32, {4}, buf.get(), 16);
        ds4_params_scale p{};
        p.scale = 2;
        g->add(DS4_OP_SCALE, {a}, {y}, p);
        plan = dev.create_plan(g->c_graph());
        // The graph is freed here: the plan must have copied what it needs.
    }
};

TEST_F(CpuRef, PlanOutlivesItsGraph) {
    Device dev(*plugin_, 0);
    ScalePlan sp(dev);
    sp.plan.submit();
    dev.synchronize();
    float y[4];
    sp.buf.read(16, y, 16);
    EXPECT_EQ(y[0], 2.0f);
    EXPECT_EQ(y[3], 8.0f);
}

void expect_lost(const std::function<void()>& call, const char* what) {
    try {
        call();
        ADD_FAILURE() << what << " succeeded on a lost device";
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), DS4_ERR_DEVICE_LOST) << what << ": " << e.what();
    }
}

TEST_F(CpuRef, InjectedFaultAtSubmitPoisonsTheDevice) {
    Device dev(*plugin_, 0, {{"inject_fault", "submit:2"}});
    ScalePlan sp(dev);
    sp.plan.submit();  // 1st: fine
    dev.synchronize();
    expect_lost([&] { sp.plan.submit(); }, "the 2nd submit");
    expect_lost([&] { dev.synchronize(); }, "synchronize");
    expect_lost([&] { sp.plan.submit(); }, "a later submit");
    expect_lost([&] { dev.alloc(16, DS4_BUFFER_SCRATCH); }, "buffer_alloc");
    expect_lost([&] { float x; sp.buf.read(0, &x, 4); }, "buffer_read");
    expect_lost(
        [&] {
            Graph g;
            auto* t = g.tensor(DS4_TYPE_F32, {4}, sp.buf.get(), 0);
            g.add(DS4_OP_UNARY, {t}, {t}, params<ds4_params_unary>());
            dev.create_plan(g.c_graph());
        },
        "plan_create");
}

TEST_F(CpuRef, InjectedFaultAtSynchronize) {
    Device dev(*plugin_, 0, {{"inject_fault", "synchronize:1"}});
    ScalePlan sp(dev);
    sp.plan.submit();
    expect_lost([&] { dev.synchronize(); }, "the 1st synchronize");
    expect_lost([&] { sp.plan.submit(); }, "submit after the fault");
    // A fresh device is healthy again.
    Device fresh(*plugin_, 0);
    ScalePlan ok(fresh);
    ok.plan.submit();
    fresh.synchronize();
}

TEST_F(CpuRef, NodeSupportedIsPureAndChecksShapes) {
    Device dev(*plugin_, 0);
    Graph g;
    auto* a = g.tensor(DS4_TYPE_F32, {4, 2}, nullptr, 0);  // unbound is fine for node_supported
    auto* b = g.tensor(DS4_TYPE_F32, {3, 2}, nullptr, 0);
    g.add(DS4_OP_ADD, {a, a}, {a});
    g.add(DS4_OP_ADD, {a, b}, {a});
    g.add_raw(200, {a}, {a}, nullptr, 0);  // unknown op
    EXPECT_TRUE(dev.node_supported(g.node(0)));
    EXPECT_FALSE(dev.node_supported(g.node(1)));
    EXPECT_FALSE(dev.node_supported(g.node(2)));
}

}  // namespace
}  // namespace ds4::host
