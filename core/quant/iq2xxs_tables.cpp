// IQ2_XXS lookup tables: facts of the format (identical to ggml's), generated into
// iq2xxs_tables.inc by gen_iq2xxs_tables.py from shared/data/iq2xxs_tables.txt.
#include "quant/quant.h"

namespace ds4::quant {

#include "iq2xxs_tables.inc"

const uint64_t kIq2xxsGrid[256] = {DS4_IQ2XXS_GRID_VALUES};
const uint8_t kIq2xsSigns[128] = {DS4_IQ2XS_SIGNS_VALUES};

}  // namespace ds4::quant
