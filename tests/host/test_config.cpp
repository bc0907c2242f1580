// Configuration and backend selection: every user mistake gives one clear line.
#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <string>

#include "host/config.h"
#include "host/plugin_loader.h"
#include "host/status.h"

namespace {

std::string error_of(const std::function<void()>& fn) {
    try {
        fn();
    } catch (const ds4::Error& e) {
        return e.what();
    }
    return "<no error>";
}

TEST(Config, DefaultsAreValid) {
    ds4::Config c;
    EXPECT_NO_THROW(c.validate());
    EXPECT_EQ(c.backend, "cpu-ref");
    EXPECT_EQ(c.numerics, "official");
}

TEST(Config, ShippedConfigsLoad) {
    for (const char* name : {"cpu-ref", "cuda", "hip", "metal"}) {
        ds4::Config c;
        EXPECT_NO_THROW(c.load_yaml_file(std::string(DS4_SOURCE_DIR) + "/configs/" + name + ".yaml")) << name;
        EXPECT_EQ(c.backend, name);
        EXPECT_NO_THROW(c.validate());
    }
}

TEST(Config, NestedAndDottedKeys) {
    ds4::Config c;
    c.load_yaml_string("backend:\n  name: cuda\n  threads: 3\n  options:\n    inject_fault: submit:2\n"
                       "context: 4096\nserver.port: 9000\n");
    EXPECT_EQ(c.backend, "cuda");
    EXPECT_EQ(c.threads, 3);
    EXPECT_EQ(c.context, 4096);
    EXPECT_EQ(c.server_port, 9000);
    EXPECT_EQ(c.backend_options.at("inject_fault"), "submit:2");
}

TEST(Config, UnknownKeyNamesKeyAndLine) {
    ds4::Config c;
    std::string e = error_of([&] { c.load_yaml_string("numerics: exact\nbackend:\n  nmae: cuda\n", "my.yaml"); });
    EXPECT_EQ(e, "my.yaml:3: unknown key 'backend.nmae'");
    e = error_of([&] { c.load_yaml_string("contxt: 5\n", "my.yaml"); });
    EXPECT_EQ(e, "my.yaml:1: unknown key 'contxt'");
}

TEST(Config, BadValuesAreNamed) {
    ds4::Config c;
    EXPECT_EQ(error_of([&] { c.load_yaml_string("context: lots\n", "a.yaml"); }),
              "a.yaml:1: context: expected an integer, got 'lots'");
    EXPECT_NE(error_of([&] { c.load_yaml_string("backend: [1, 2\n", "b.yaml"); }).find("b.yaml:"),
              std::string::npos);
    ds4::Config d;
    d.numerics = "fast";
    EXPECT_EQ(error_of([&] { d.validate(); }), "numerics: expected 'official' or 'exact', got 'fast'");
}

TEST(Config, SetOverridesAndErrors) {
    ds4::Config c;
    c.set("context=1024");
    c.set("backend.options.threads=2");
    EXPECT_EQ(c.context, 1024);
    EXPECT_EQ(c.backend_options.at("threads"), "2");
    EXPECT_EQ(error_of([&] { c.set("contex=1"); }), "--set unknown key 'contex'");
    EXPECT_EQ(error_of([&] { c.set("context"); }), "--set context: expected key=value");
}

TEST(Config, MissingFileIsNamed) {
    ds4::Config c;
    EXPECT_EQ(error_of([&] { c.load_yaml_file("/nonexistent/x.yaml"); }),
              "/nonexistent/x.yaml: cannot open config file");
}

TEST(Backends, MissingBackendIsOneLine) {
    std::string e = error_of([] { ds4::host::PluginLoader::load("nosuch", {DS4_PLUGIN_DIR}); });
    EXPECT_EQ(e.find('\n'), std::string::npos);
    EXPECT_NE(e.find("backend 'nosuch' not found"), std::string::npos) << e;
    EXPECT_NE(e.find(DS4_PLUGIN_DIR), std::string::npos) << e;
}

TEST(Backends, SearchDirsOrder) {
    setenv("DS4_PLUGIN_PATH", "/a:/b", 1);
    auto dirs = ds4::host::PluginLoader::search_dirs("/cfg");
    unsetenv("DS4_PLUGIN_PATH");
    ASSERT_GE(dirs.size(), 4u);
    EXPECT_EQ(dirs[0], "/cfg");
    EXPECT_EQ(dirs[1], "/a");
    EXPECT_EQ(dirs[2], "/b");
    EXPECT_NE(dirs[3].find("/../lib/ds4"), std::string::npos);
}

TEST(Backends, OpTableNames) {
    EXPECT_STREQ(ds4::host::op_name(DS4_OP_MATMUL), "matmul");
    EXPECT_STREQ(ds4::host::op_name(DS4_OP_MOE_FFN), "moe_ffn");
    EXPECT_EQ(ds4::host::op_tier(DS4_OP_HC_PRE), 1);
    EXPECT_EQ(ds4::host::op_tier(DS4_OP_COPY), 0);
    EXPECT_EQ(ds4::host::op_tier(9999), -1);
    EXPECT_EQ(ds4::host::ops_of_tier(0).size(), 19u);
}

}  // namespace
