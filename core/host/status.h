// Host-side status objects for the plugin ABI, and the C++ error type that carries them.
#pragma once
#include <stdexcept>
#include <string>

#include "ds4/backend.h"

// The host's definition of the opaque ds4_status (plugins only see the pointer).
struct ds4_status {
    ds4_status_code code;
    std::string message;
};

namespace ds4 {

// Thrown by host code for any failure that should reach the user as one clear line.
class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message, ds4_status_code code = DS4_ERR_INVALID_ARGUMENT)
        : std::runtime_error(message), code_(code) {}
    ds4_status_code code() const { return code_; }

private:
    ds4_status_code code_;
};

namespace host {

// The host services table handed to every plugin.
const ds4_host_api* host_api();

// Creates a status (what host_api()->status_new does).
ds4_status* status_new(ds4_status_code code, const char* message);
void status_free(ds4_status* status);
const char* status_code_name(ds4_status_code code);

// Takes ownership of a status returned by a plugin; throws ds4::Error when it is not OK.
// `what` prefixes the message ("cpu-ref: buffer_alloc").
void check(ds4_status* status, const std::string& what);

}  // namespace host
}  // namespace ds4
