// Small portable PRNG for sampling. std:: distributions differ between standard
// libraries, so the draw is defined here bit for bit: xorshift64* (the generator §C.7
// names), seeded through splitmix64 so that every seed, including 0, gives a good state.
#pragma once

#include <cstdint>

namespace ds4::sampler {

inline uint64_t splitmix64(uint64_t& x) {
  uint64_t z = (x += 0x9E3779B97F4A7C15ull);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

class Xorshift64Star {
 public:
  explicit Xorshift64Star(uint64_t seed = 0) { this->seed(seed); }

  void seed(uint64_t seed) {
    uint64_t x = seed;
    state_ = splitmix64(x);
    if (state_ == 0) state_ = 0x9E3779B97F4A7C15ull;  // xorshift must not start at 0
  }

  uint64_t next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545F4914F6CDD1Dull;
  }

  // Uniform in [0, 1) with 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  uint64_t state() const { return state_; }

 private:
  uint64_t state_ = 0;
};

}  // namespace ds4::sampler
