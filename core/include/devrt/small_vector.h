// A vector with inline storage for the first N elements: tensor shapes and
// strides almost never exceed six dimensions, so creating a tensor does not
// touch the heap for them.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <initializer_list>
#include <type_traits>
#include <vector>

namespace devrt {

template <class T, size_t N> class SmallVector {
  static_assert(std::is_trivially_copyable_v<T>, "SmallVector holds PODs");

public:
  SmallVector() = default;
  explicit SmallVector(size_t n, T value = T()) { assign(n, value); }
  SmallVector(std::initializer_list<T> init) {
    assign(init.begin(), init.end());
  }
  template <class It> SmallVector(It first, It last) { assign(first, last); }
  SmallVector(const std::vector<T> &v) { assign(v.begin(), v.end()); }
  SmallVector(const SmallVector &o) { assign(o.begin(), o.end()); }
  SmallVector(SmallVector &&o) noexcept { take(o); }
  SmallVector &operator=(const SmallVector &o) {
    if (this != &o)
      assign(o.begin(), o.end());
    return *this;
  }
  SmallVector &operator=(SmallVector &&o) noexcept {
    if (this != &o) {
      release();
      take(o);
    }
    return *this;
  }
  ~SmallVector() { release(); }

  template <class It> void assign(It first, It last) {
    size_t n = static_cast<size_t>(std::distance(first, last));
    reserve(n);
    std::copy(first, last, data_);
    size_ = n;
  }
  void assign(size_t n, T value) {
    reserve(n);
    std::fill(data_, data_ + n, value);
    size_ = n;
  }
  void reserve(size_t n) {
    if (n <= cap_)
      return;
    size_t cap = std::max(n, cap_ * 2);
    T *mem = new T[cap];
    std::memcpy(mem, data_, size_ * sizeof(T));
    release();
    data_ = mem;
    cap_ = cap;
  }
  void resize(size_t n, T value = T()) {
    reserve(n);
    for (size_t i = size_; i < n; ++i)
      data_[i] = value;
    size_ = n;
  }
  void push_back(T v) {
    reserve(size_ + 1);
    data_[size_++] = v;
  }
  void insert(size_t pos, T v) {
    reserve(size_ + 1);
    std::memmove(data_ + pos + 1, data_ + pos, (size_ - pos) * sizeof(T));
    data_[pos] = v;
    ++size_;
  }
  void erase(size_t pos) {
    std::memmove(data_ + pos, data_ + pos + 1, (size_ - pos - 1) * sizeof(T));
    --size_;
  }
  void clear() { size_ = 0; }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  T *data() { return data_; }
  const T *data() const { return data_; }
  T &operator[](size_t i) { return data_[i]; }
  const T &operator[](size_t i) const { return data_[i]; }
  T &back() { return data_[size_ - 1]; }
  const T &back() const { return data_[size_ - 1]; }
  T *begin() { return data_; }
  T *end() { return data_ + size_; }
  const T *begin() const { return data_; }
  const T *end() const { return data_ + size_; }
  std::vector<T> vec() const { return std::vector<T>(begin(), end()); }

  bool operator==(const SmallVector &o) const {
    return size_ == o.size_ && std::equal(begin(), end(), o.begin());
  }
  bool operator!=(const SmallVector &o) const { return !(*this == o); }

private:
  void release() {
    if (data_ != inline_)
      delete[] data_;
    data_ = inline_;
    cap_ = N;
  }
  void take(SmallVector &o) {
    if (o.data_ == o.inline_) {
      std::memcpy(inline_, o.inline_, o.size_ * sizeof(T));
      data_ = inline_;
      cap_ = N;
    } else {
      data_ = o.data_;
      cap_ = o.cap_;
      o.data_ = o.inline_;
      o.cap_ = N;
    }
    size_ = o.size_;
    o.size_ = 0;
  }

  T inline_[N];
  T *data_ = inline_;
  size_t size_ = 0;
  size_t cap_ = N;
};

using Dims = SmallVector<int64_t, 6>;

} // namespace devrt
