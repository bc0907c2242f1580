// The GPU plugin's submit path, through core/host: graph-captured plans replay with the inputs
// the host rewrites between submits (same bits as launching kernel by kernel), data errors stay
// INVALID_ARGUMENT, and the inject_fault option makes the device really fault: the faulting
// call and every later one report DEVICE_LOST, and nothing hangs or crashes.
//
// A real fault leaves the process's GPU context unusable, so every scenario runs in a forked
// child (which loads the plugin itself: the parent never touches the GPU) and reports its
// findings through a pipe. Skips when the plugin is not built or finds no GPU (score 0).
// DS4_GPU_PLUGIN overrides the plugin file (default: the built cuda plugin).
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "host/device.h"
#include "host/graph.h"
#include "host/plugin_loader.h"
#include "host/status.h"

namespace ds4::host {
namespace {

std::string plugin_path() {
    if (const char* p = std::getenv("DS4_GPU_PLUGIN"); p && *p) return p;
    return std::string(DS4_PLUGIN_DIR) + "/libds4-backend-cuda.so";
}

// What a child found: lines "FAIL <text>" or "SKIP <text>".
struct Report {
    std::vector<std::string> lines;
    void fail(const std::string& m) { lines.push_back("FAIL " + m); }
    void skip(const std::string& m) { lines.push_back("SKIP " + m); }
    void expect(bool ok, const std::string& m) {
        if (!ok) fail(m);
    }
};

// Runs `body` in a child process with the plugin loaded there; forwards its report to gtest.
void run_isolated(const std::function<void(const Plugin&, Report&)>& body) {
    if (access(plugin_path().c_str(), R_OK) != 0) GTEST_SKIP() << plugin_path() << " not built";
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
        close(fds[0]);
        Report r;
        try {
            auto plugin = PluginLoader::load_file(plugin_path());
            if (plugin->score() <= 0) r.skip(plugin->name() + " plugin cannot run here (no GPU, score 0)");
            else body(*plugin, r);
        } catch (const std::exception& e) {
            r.fail(std::string("unexpected exception: ") + e.what());
        }
        std::string out;
        for (const auto& l : r.lines) out += l + "\n";
        (void)!write(fds[1], out.data(), out.size());
        close(fds[1]);
        _exit(0);
    }
    close(fds[1]);
    // The child writes its report when done; a hang is caught by the deadline.
    std::string text;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    for (;;) {
        pollfd pfd{fds[0], POLLIN, 0};
        const int ready = poll(&pfd, 1, 100);
        if (ready > 0) {
            char buf[4096];
            const ssize_t got = read(fds[0], buf, sizeof buf);
            if (got <= 0) break;  // EOF: the child exited (or died)
            text.append(buf, static_cast<size_t>(got));
        }
        if (std::chrono::steady_clock::now() > deadline) {
            kill(pid, SIGKILL);
            waitpid(pid, nullptr, 0);
            close(fds[0]);
            FAIL() << "the scenario hung (killed after 120 s); output so far:\n" << text;
        }
    }
    close(fds[0]);
    int status = 0;
    waitpid(pid, &status, 0);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "the scenario crashed (status " << status << "); output so far:\n" << text;
    std::istringstream lines(text);
    std::string line;
    bool skipped = false;
    std::string skip_reason;
    while (std::getline(lines, line)) {
        if (line.rfind("FAIL ", 0) == 0) ADD_FAILURE() << line.substr(5);
        if (line.rfind("SKIP ", 0) == 0) skipped = true, skip_reason = line.substr(5);
    }
    if (skipped) GTEST_SKIP() << skip_reason;
}

// y = x·2 + 1 on 64 floats, then rows of a table gathered by indices: inputs x and idx are
// rewritten between submits.
struct SmallPlan {
    Buffer buf;
    Plan plan;
    explicit SmallPlan(const Device& dev) {
        buf = dev.alloc(4096, DS4_BUFFER_SCRATCH);
        Graph g;
        auto* x = g.tensor(DS4_TYPE_F32, {64}, buf.get(), 0);
        auto* y = g.tensor(DS4_TYPE_F32, {64}, buf.get(), 256);
        auto* table = g.tensor(DS4_TYPE_F32, {4, 8}, buf.get(), 512);
        auto* idx = g.tensor(DS4_TYPE_I32, {3}, buf.get(), 1024);
        auto* rows = g.tensor(DS4_TYPE_F32, {4, 3}, buf.get(), 1280);
        ds4_params_scale p{};
        p.scale = 2;
        p.bias = 1;
        g.add(DS4_OP_SCALE, {x}, {y}, p);
        g.add(DS4_OP_GET_ROWS, {table, idx}, {rows});
        plan = dev.create_plan(g.c_graph());
        std::vector<float> t(32);
        for (int i = 0; i < 32; ++i) t[i] = float(i);
        buf.write(512, t.data(), t.size() * 4);
    }
    void set_inputs(float base, std::vector<int32_t> idx) {
        std::vector<float> x(64);
        for (int i = 0; i < 64; ++i) x[i] = base + float(i);
        buf.write(0, x.data(), x.size() * 4);
        buf.write(1024, idx.data(), idx.size() * 4);
    }
};

void expect_lost(Report& r, const std::function<void()>& call, const std::string& what) {
    try {
        call();
        r.fail(what + " succeeded on a lost device");
    } catch (const Error& e) {
        r.expect(e.code() == DS4_ERR_DEVICE_LOST, what + ": expected DEVICE_LOST, got: " + e.what());
    }
}

TEST(GpuSubmit, GraphReplayReadsRewrittenInputs) {
    run_isolated([](const Plugin& plugin, Report& r) {
        for (const char* graphs : {"1", "0"}) {
            Device dev(plugin, 0, {{"graphs", graphs}});
            SmallPlan sp(dev);
            for (int round = 0; round < 3; ++round) {
                sp.set_inputs(float(100 * round), {round, 7 - round, 3});
                sp.plan.submit();
                float y[64], rows[12];
                sp.buf.read(256, y, sizeof y);
                sp.buf.read(1280, rows, sizeof rows);
                const std::string at = std::string("graphs=") + graphs + " round " + std::to_string(round) + ": ";
                r.expect(y[5] == 2.0f * float(100 * round + 5) + 1.0f, at + "SCALE output is stale");
                r.expect(rows[0] == float(4 * round) && rows[4] == float(4 * (7 - round)) && rows[8] == 12.0f,
                         at + "GET_ROWS did not use the rewritten indices");
            }
        }
    });
}

TEST(GpuSubmit, BadIndexIsInvalidArgumentAndTheDeviceStaysUsable) {
    run_isolated([](const Plugin& plugin, Report& r) {
        Device dev(plugin, 0);
        SmallPlan sp(dev);
        sp.set_inputs(0, {0, 9, 1});  // 9 is out of range
        try {
            sp.plan.submit();
            r.fail("a bad GET_ROWS index did not fail the submit");
        } catch (const Error& e) {
            r.expect(e.code() == DS4_ERR_INVALID_ARGUMENT, std::string("bad index: expected INVALID_ARGUMENT, got: ") + e.what());
            r.expect(std::string(e.what()).find("row index 9") != std::string::npos, std::string("message: ") + e.what());
        }
        sp.set_inputs(0, {0, 1, 2});
        sp.plan.submit();  // the same captured plan, now with good data
        dev.synchronize();
    });
}

void fault_scenario(const Plugin& plugin, Report& r, const char* graphs, bool at_submit) {
    Device dev(plugin, 0, {{"inject_fault", at_submit ? "submit:3" : "synchronize:2"}, {"graphs", graphs}});
    SmallPlan sp(dev);
    sp.set_inputs(1, {0, 1, 2});
    const std::string tag = std::string("graphs=") + graphs + ": ";
    sp.plan.submit();
    dev.synchronize();
    float y = 0;
    sp.buf.read(256, &y, 4);
    r.expect(y == 3.0f, tag + "the healthy submit computed " + std::to_string(y));
    sp.plan.submit();
    try {
        if (at_submit) sp.plan.submit();
        else dev.synchronize();
        r.fail(tag + "the injected fault was not reported");
    } catch (const Error& e) {
        const std::string m = e.what();
        r.expect(e.code() == DS4_ERR_DEVICE_LOST, tag + "expected DEVICE_LOST, got: " + m);
        r.expect(m.find("device lost") != std::string::npos && m.find("inject_fault") != std::string::npos,
                 tag + "unclear message: " + m);
    }
    expect_lost(r, [&] { dev.synchronize(); }, tag + "synchronize after the fault");
    expect_lost(r, [&] { sp.plan.submit(); }, tag + "a later submit");
    expect_lost(r, [&] { dev.alloc(16, DS4_BUFFER_SCRATCH); }, tag + "buffer_alloc");
    expect_lost(r, [&] { float x; sp.buf.read(0, &x, 4); }, tag + "buffer_read");
    expect_lost(r, [&] { float x = 0; sp.buf.write(0, &x, 4); }, tag + "buffer_write");
    expect_lost(r, [&] { SmallPlan again(dev); }, tag + "plan_create");
    // Plans, buffers and the device are released below without hanging.
}

TEST(GpuSubmit, InjectedFaultAtSubmitIsDeviceLostAndSticky) {
    run_isolated([](const Plugin& plugin, Report& r) { fault_scenario(plugin, r, "1", true); });
}

TEST(GpuSubmit, InjectedFaultAtSubmitWithoutGraphs) {
    run_isolated([](const Plugin& plugin, Report& r) { fault_scenario(plugin, r, "0", true); });
}

TEST(GpuSubmit, InjectedFaultAtSynchronize) {
    run_isolated([](const Plugin& plugin, Report& r) { fault_scenario(plugin, r, "1", false); });
}

TEST(GpuSubmit, BadOptionsAreRefused) {
    run_isolated([](const Plugin& plugin, Report& r) {
        for (auto opt : std::vector<std::pair<std::string, std::string>>{
                 {"inject_fault", "submit:0"}, {"inject_fault", "reboot:1"}, {"graphs", "maybe"}, {"colour", "1"}}) {
            try {
                Device dev(plugin, 0, {opt});
                r.fail(opt.first + "=" + opt.second + " was accepted");
            } catch (const Error& e) {
                r.expect(e.code() == DS4_ERR_INVALID_ARGUMENT, opt.first + ": " + e.what());
            }
        }
    });
}

}  // namespace
}  // namespace ds4::host
