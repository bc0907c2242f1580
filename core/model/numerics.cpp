#include "model/numerics.h"

#include "host/status.h"

namespace ds4::model {

const char* numerics_name(Numerics n) { return n == Numerics::Exact ? "exact" : "official"; }

Numerics parse_numerics(std::string_view s) {
    if (s == "exact") return Numerics::Exact;
    if (s == "official") return Numerics::Official;
    throw Error("unknown numerics '" + std::string(s) + "' (expected exact or official)");
}

}  // namespace ds4::model
