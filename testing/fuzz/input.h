// Copyright 2026 The pmem2 Authors.
//
// testing/fuzz/input.h
// -----------------------------------------------------------------------------
//
// A fuzz target's input read as the values it chooses (driver.h): bytes and big-endian numbers taken from the front,
// zeros once it has ended, so that every input, however short, decodes to something. (clang's FuzzedDataProvider does
// this and more, but ships with clang only; the targets also build with GCC.)

#ifndef PMEM2_TESTING_FUZZ_INPUT_H_
#define PMEM2_TESTING_FUZZ_INPUT_H_

#include <cstddef>
#include <cstdint>

namespace pmem2 {
namespace testing {

class FuzzInput {
 public:
  FuzzInput(const uint8_t* data, size_t size) : data_(data), size_(size) {}
  bool empty() const { return at_ >= size_; }
  uint8_t Byte() { return at_ < size_ ? data_[at_++] : 0; }
  // The next `n` bytes (at most 8) as one big-endian number.
  uint64_t Bytes(int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v = v << 8 | Byte();
    return v;
  }

 private:
  const uint8_t* data_;
  size_t size_;
  size_t at_ = 0;
};

}  // namespace testing
}  // namespace pmem2

#endif  // PMEM2_TESTING_FUZZ_INPUT_H_
