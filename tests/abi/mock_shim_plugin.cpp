// libds4-backend-test-mock.so: a shim whose ds4_plugin_init delegates to
// ds4_test_mock_plugin_init, exported by the test executable (test_abi, ENABLE_EXPORTS).
// The executable fills the table with trampolines into a GoogleMock object, so core's
// Device/Buffer/Plan wrappers can be tested against scripted plugin behaviour.
#include <dlfcn.h>

#include "ds4/backend.h"

extern "C" {

DS4_PLUGIN_EXPORT int32_t ds4_plugin_score(void) { return 1; }

DS4_PLUGIN_EXPORT ds4_status* ds4_plugin_init(const ds4_host_api* host, ds4_plugin* out) {
    using InitFn = ds4_status* (*)(const ds4_host_api*, ds4_plugin*);
    auto fn = reinterpret_cast<InitFn>(dlsym(RTLD_DEFAULT, "ds4_test_mock_plugin_init"));
    if (!fn) return host->status_new(DS4_ERR_INTERNAL, "test-mock: the host executable does not provide the mock");
    return fn(host, out);
}

}  // extern "C"
