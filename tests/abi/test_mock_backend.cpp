// core's C++ handles (host/device.h) against a GoogleMock backend: every failing status must
// become a ds4::Error carrying the code and a message naming the plugin and the call, and
// status objects must be consumed. The plugin file is a shim (mock_shim_plugin.cpp) that
// calls ds4_test_mock_plugin_init below, whose table trampolines into MockBackend.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "host/device.h"
#include "host/graph.h"
#include "host/plugin_loader.h"
#include "host/status.h"
#include "model/model.h"
#include "model/synthetic.h"

using ::testing::_;
using ::testing::DoAll;
using ::testing::HasSubstr;
using ::testing::Return;
using ::testing::SetArgPointee;

namespace {

class MockBackend {
public:
    MOCK_METHOD(uint32_t, device_count, ());
    MOCK_METHOD(ds4_status*, device_info, (uint32_t, ds4_device_info*));
    MOCK_METHOD(ds4_status*, device_open, (uint32_t, const ds4_option*, uint32_t, ds4_device**));
    MOCK_METHOD(void, device_close, (ds4_device*));
    MOCK_METHOD(int, node_supported, (ds4_device*, const ds4_node*));
    MOCK_METHOD(ds4_status*, buffer_alloc, (ds4_device*, uint64_t, uint32_t, ds4_buffer**));
    MOCK_METHOD(ds4_status*, buffer_wrap_host, (ds4_device*, void*, uint64_t, uint32_t, ds4_buffer**));
    MOCK_METHOD(void, buffer_free, (ds4_buffer*));
    MOCK_METHOD(ds4_status*, buffer_write, (ds4_buffer*, uint64_t, const void*, uint64_t));
    MOCK_METHOD(ds4_status*, buffer_read, (ds4_buffer*, uint64_t, void*, uint64_t));
    MOCK_METHOD(ds4_status*, plan_create, (ds4_device*, const ds4_graph*, ds4_plan**));
    MOCK_METHOD(ds4_status*, plan_submit, (ds4_plan*));
    MOCK_METHOD(void, plan_destroy, (ds4_plan*));
    MOCK_METHOD(ds4_status*, synchronize, (ds4_device*));
};

MockBackend* g_mock = nullptr;
const ds4_host_api* g_host = nullptr;

std::vector<uint32_t> g_claimed;

ds4_status* fail(ds4_status_code code, const char* msg) { return g_host->status_new(code, msg); }

// Fake handles: distinct non-null addresses.
char g_dev_storage, g_buf_storage, g_plan_storage;
ds4_device* const kDev = reinterpret_cast<ds4_device*>(&g_dev_storage);
ds4_buffer* const kBuf = reinterpret_cast<ds4_buffer*>(&g_buf_storage);
ds4_plan* const kPlan = reinterpret_cast<ds4_plan*>(&g_plan_storage);

}  // namespace

extern "C" __attribute__((visibility("default"))) ds4_status* ds4_test_mock_plugin_init(const ds4_host_api* host,
                                                                                       ds4_plugin* out) {
    g_host = host;
    g_claimed = ds4::host::ops_of_tier(0);
    ds4_plugin t{};
    t.struct_size = sizeof(t);
    t.abi_major = DS4_ABI_MAJOR;
    t.abi_minor = DS4_ABI_MINOR;
    t.name = "test-mock";
    t.version = "0";
    t.claimed_ops = g_claimed.data();
    t.n_claimed_ops = static_cast<uint32_t>(g_claimed.size());
    t.device_count = [](void*) { return g_mock->device_count(); };
    t.device_info = [](void*, uint32_t i, ds4_device_info* o) { return g_mock->device_info(i, o); };
    t.device_open = [](void*, uint32_t i, const ds4_option* o, uint32_t n, ds4_device** d) {
        return g_mock->device_open(i, o, n, d);
    };
    t.device_close = [](ds4_device* d) { g_mock->device_close(d); };
    t.node_supported = [](ds4_device* d, const ds4_node* n) { return g_mock->node_supported(d, n); };
    t.buffer_alloc = [](ds4_device* d, uint64_t s, uint32_t u, ds4_buffer** b) { return g_mock->buffer_alloc(d, s, u, b); };
    t.buffer_wrap_host = [](ds4_device* d, void* p, uint64_t s, uint32_t u, ds4_buffer** b) {
        return g_mock->buffer_wrap_host(d, p, s, u, b);
    };
    t.buffer_free = [](ds4_buffer* b) { g_mock->buffer_free(b); };
    t.buffer_write = [](ds4_buffer* b, uint64_t o, const void* p, uint64_t s) { return g_mock->buffer_write(b, o, p, s); };
    t.buffer_read = [](ds4_buffer* b, uint64_t o, void* p, uint64_t s) { return g_mock->buffer_read(b, o, p, s); };
    t.plan_create = [](ds4_device* d, const ds4_graph* g, ds4_plan** p) { return g_mock->plan_create(d, g, p); };
    t.plan_submit = [](ds4_plan* p) { return g_mock->plan_submit(p); };
    t.plan_destroy = [](ds4_plan* p) { g_mock->plan_destroy(p); };
    t.synchronize = [](ds4_device* d) { return g_mock->synchronize(d); };
    *out = t;
    return nullptr;
}

namespace ds4::host {
namespace {

const std::string kMockPath = std::string(DS4_TEST_PLUGIN_DIR) + "/libds4-backend-test-mock.so";

class MockedDevice : public ::testing::Test {
protected:
    void SetUp() override {
        g_mock = &mock_;
        plugin_ = PluginLoader::load_file(kMockPath);
        ASSERT_EQ(plugin_->name(), "test-mock");
    }
    void TearDown() override {
        plugin_.reset();
        g_mock = nullptr;
    }
    // Opens the device successfully (and expects it to be closed at the end).
    std::unique_ptr<Device> open() {
        EXPECT_CALL(mock_, device_count()).WillRepeatedly(Return(1));
        EXPECT_CALL(mock_, device_open(0, _, _, _)).WillOnce(DoAll(SetArgPointee<3>(kDev), Return(nullptr)));
        EXPECT_CALL(mock_, device_close(kDev)).Times(1);
        return std::make_unique<Device>(*plugin_, 0);
    }
    ::testing::StrictMock<MockBackend> mock_;
    std::unique_ptr<Plugin> plugin_;
};

void expect_error(const std::function<void()>& call, ds4_status_code code, const std::string& text) {
    try {
        call();
        ADD_FAILURE() << "no error; expected: " << text;
    } catch (const Error& e) {
        EXPECT_EQ(e.code(), code) << e.what();
        EXPECT_THAT(std::string(e.what()), HasSubstr(text));
    }
}

TEST_F(MockedDevice, OpenFailureNamesPluginAndCall) {
    EXPECT_CALL(mock_, device_count()).WillRepeatedly(Return(1));
    EXPECT_CALL(mock_, device_open(0, _, 1, _)).WillOnce(Return(fail(DS4_ERR_INVALID_ARGUMENT, "unknown device option 'x'")));
    expect_error([&] { Device d(*plugin_, 0, {{"x", "1"}}); }, DS4_ERR_INVALID_ARGUMENT,
                 "test-mock: device_open: invalid argument: unknown device option 'x'");
}

TEST_F(MockedDevice, MissingDeviceIndexIsRefusedBeforeOpening) {
    EXPECT_CALL(mock_, device_count()).WillRepeatedly(Return(1));
    expect_error([&] { Device d(*plugin_, 3); }, DS4_ERR_INVALID_ARGUMENT, "test-mock: device 3 does not exist");
}

TEST_F(MockedDevice, AllocationFailureCarriesOutOfMemory) {
    auto dev = open();
    EXPECT_CALL(mock_, buffer_alloc(kDev, 4096, DS4_BUFFER_WEIGHTS, _))
        .WillOnce(Return(fail(DS4_ERR_OUT_OF_MEMORY, "no room")));
    expect_error([&] { dev->alloc(4096, DS4_BUFFER_WEIGHTS); }, DS4_ERR_OUT_OF_MEMORY,
                 "test-mock: buffer_alloc(4096 bytes): out of memory: no room");
}

TEST_F(MockedDevice, BufferCallsAndFreeOnDestruction) {
    auto dev = open();
    EXPECT_CALL(mock_, buffer_alloc(kDev, 64, _, _)).WillOnce(DoAll(SetArgPointee<3>(kBuf), Return(nullptr)));
    EXPECT_CALL(mock_, buffer_write(kBuf, 8, _, 4)).WillOnce(Return(fail(DS4_ERR_INVALID_ARGUMENT, "outside")));
    EXPECT_CALL(mock_, buffer_read(kBuf, 0, _, 4)).WillOnce(Return(nullptr));
    EXPECT_CALL(mock_, buffer_free(kBuf)).Times(1);
    Buffer b = dev->alloc(64, DS4_BUFFER_SCRATCH);
    int x = 0;
    expect_error([&] { b.write(8, &x, 4); }, DS4_ERR_INVALID_ARGUMENT, "test-mock: buffer_write: invalid argument: outside");
    b.read(0, &x, 4);
}

TEST_F(MockedDevice, WrapFailureFallsBackToAnUploadedCopy) {
    auto dev = open();
    std::vector<uint8_t> host(32, 1);
    EXPECT_CALL(mock_, buffer_wrap_host(kDev, host.data(), 32, _, _))
        .WillOnce(Return(fail(DS4_ERR_UNSUPPORTED, "no wrapping")));
    EXPECT_CALL(mock_, buffer_alloc(kDev, 32, _, _)).WillOnce(DoAll(SetArgPointee<3>(kBuf), Return(nullptr)));
    EXPECT_CALL(mock_, buffer_write(kBuf, 0, host.data(), 32)).WillOnce(Return(nullptr));
    EXPECT_CALL(mock_, buffer_free(kBuf)).Times(1);
    bool copied = false;
    Buffer b = dev->wrap_or_upload(host.data(), 32, DS4_BUFFER_WEIGHTS, &copied);
    EXPECT_TRUE(copied);
}

TEST_F(MockedDevice, PlanErrorsAndDeviceLost) {
    auto dev = open();
    Graph g;
    auto* t = g.tensor(DS4_TYPE_F32, {4}, kBuf, 0);
    g.add(DS4_OP_UNARY, {t}, {t}, params<ds4_params_unary>());
    EXPECT_CALL(mock_, plan_create(kDev, _, _))
        .WillOnce(Return(fail(DS4_ERR_UNSUPPORTED, "node 0 (unary): kind 9")))
        .WillOnce(DoAll(SetArgPointee<2>(kPlan), Return(nullptr)));
    expect_error([&] { dev->create_plan(g.c_graph()); }, DS4_ERR_UNSUPPORTED,
                 "test-mock: plan_create: unsupported: node 0 (unary): kind 9");
    Plan plan = dev->create_plan(g.c_graph());
    EXPECT_CALL(mock_, plan_submit(kPlan)).WillOnce(Return(fail(DS4_ERR_DEVICE_LOST, "gone")));
    EXPECT_CALL(mock_, synchronize(kDev)).WillOnce(Return(fail(DS4_ERR_DEVICE_LOST, "still gone")));
    EXPECT_CALL(mock_, plan_destroy(kPlan)).Times(1);
    expect_error([&] { plan.submit(); }, DS4_ERR_DEVICE_LOST, "test-mock: plan_submit: device lost: gone");
    expect_error([&] { dev->synchronize(); }, DS4_ERR_DEVICE_LOST, "test-mock: synchronize: device lost: still gone");
}

TEST_F(MockedDevice, NodeSupportedAndInfoPassThrough) {
    auto dev = open();
    Graph g;
    auto* t = g.tensor(DS4_TYPE_F32, {4}, kBuf, 0);
    g.add(DS4_OP_UNARY, {t}, {t}, params<ds4_params_unary>());
    EXPECT_CALL(mock_, node_supported(kDev, _)).WillOnce(Return(0)).WillOnce(Return(1));
    EXPECT_FALSE(dev->node_supported(g.node(0)));
    EXPECT_TRUE(dev->node_supported(g.node(0)));
    EXPECT_CALL(mock_, device_info(0, _)).WillOnce(Return(fail(DS4_ERR_INTERNAL, "bug")));
    expect_error([&] { dev->info(); }, DS4_ERR_INTERNAL, "test-mock: device_info: internal error: bug");
}

// A device without room for the weights refuses the model before the first allocation, with
// both numbers, instead of failing halfway through a long upload.
TEST_F(MockedDevice, WeightsThatDoNotFitAreRefusedBeforeAllocating) {
    std::string path = ::testing::TempDir() + "mock-tiny.gguf";
    model::SyntheticSpec spec = model::SyntheticSpec::tiny();
    model::write_synthetic(path, spec);
    auto dev = open();
    ds4_device_info small{};
    small.struct_size = sizeof(small);
    small.name = "mock gpu";
    small.memory_total = small.memory_free = 1 << 20;
    EXPECT_CALL(mock_, device_info(0, _)).WillRepeatedly(DoAll(SetArgPointee<1>(small), Return(nullptr)));
    EXPECT_CALL(mock_, buffer_wrap_host(kDev, _, _, _, _)).WillOnce(Return(fail(DS4_ERR_UNSUPPORTED, "discrete")));
    EXPECT_CALL(mock_, buffer_alloc(_, _, _, _)).Times(0);
    expect_error([&] { model::Model::open(path, *dev); }, DS4_ERR_OUT_OF_MEMORY, "MiB but mock gpu has 1 MiB free");
}

}  // namespace
}  // namespace ds4::host
