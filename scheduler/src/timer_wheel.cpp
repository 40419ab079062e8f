#include <weft/sched/timer_wheel.hpp>

#include <bit>
#include <utility>

namespace weft::sched {
namespace {

constexpr std::uint64_t slot_mask = timer_wheel::slots - 1;
constexpr std::uint64_t max_ticks = (std::uint64_t{1} << (6 * timer_wheel::levels)) - 1;
// The farthest an entry is placed ahead: one top-level slot short of the whole span, so that
// it never lands in the top level's current slot (which would come due again at once).
constexpr std::uint64_t max_ahead =
    (std::uint64_t{1} << (6 * timer_wheel::levels)) - (std::uint64_t{1} << (6 * (timer_wheel::levels - 1)));

// The level whose slot width is the largest power of 64 in which `when` and `elapsed` differ:
// entries due soon live in fine levels, distant ones in coarse levels.
int level_for(std::uint64_t elapsed, std::uint64_t when) noexcept {
  std::uint64_t masked = (elapsed ^ when) | slot_mask;
  if (masked > max_ticks) masked = max_ticks;
  int significant = 63 - std::countl_zero(masked);
  return significant / 6;
}

std::uint64_t slot_range(int level) noexcept { return std::uint64_t{1} << (6 * level); }
std::uint64_t level_range(int level) noexcept { return slot_range(level) * timer_wheel::slots; }

}  // namespace

// Both without overflow for any int64 (INT64_MIN: due; INT64_MAX: about 292 years of ticks).
std::uint64_t timer_wheel::ticks_ceil(std::int64_t ns) const noexcept {
  if (ns <= start_ns_) return 0;
  auto d = static_cast<std::uint64_t>(ns) - static_cast<std::uint64_t>(start_ns_);
  return d / tick_ns + (d % tick_ns != 0);
}

std::uint64_t timer_wheel::ticks_floor(std::int64_t ns) const noexcept {
  if (ns <= start_ns_) return 0;
  return (static_cast<std::uint64_t>(ns) - static_cast<std::uint64_t>(start_ns_)) / tick_ns;
}

void timer_wheel::link(timer_entry* e) noexcept {
  int level = level_for(elapsed_, e->when_);
  if (level >= levels) level = levels - 1;
  int slot = static_cast<int>((e->when_ >> (6 * level)) & slot_mask);
  auto& l = levels_[level];
  e->level_ = static_cast<std::uint8_t>(level);
  e->slot_ = static_cast<std::uint8_t>(slot);
  e->prev_ = nullptr;
  e->next_ = l.heads[slot];
  if (e->next_) e->next_->prev_ = e;
  l.heads[slot] = e;
  l.occupied |= std::uint64_t{1} << slot;
  e->linked_ = true;
}

void timer_wheel::place(timer_entry* e) noexcept {
  // Past the wheel's span: at its far end for now (advance() places it again from there).
  e->when_ = e->deadline_tick_ - elapsed_ > max_ahead ? elapsed_ + max_ahead : e->deadline_tick_;
  link(e);
}

bool timer_wheel::insert(timer_entry* e) noexcept {
  if (e->deadline_ns == never) {
    e->level_ = levels;
    e->prev_ = nullptr;
    e->next_ = never_;
    if (never_) never_->prev_ = e;
    never_ = e;
    e->linked_ = true;
    ++size_;
    return true;
  }
  e->deadline_tick_ = ticks_ceil(e->deadline_ns);
  if (e->deadline_tick_ <= elapsed_) return false;
  place(e);
  ++size_;
  return true;
}

bool timer_wheel::remove(timer_entry* e) noexcept {
  if (!e->linked_) return false;
  if (e->level_ == levels) {
    (e->prev_ ? e->prev_->next_ : never_) = e->next_;
    if (e->next_) e->next_->prev_ = e->prev_;
    e->prev_ = e->next_ = nullptr;
    e->linked_ = false;
    --size_;
    return true;
  }
  auto& l = levels_[e->level_];
  if (e->prev_)
    e->prev_->next_ = e->next_;
  else
    l.heads[e->slot_] = e->next_;
  if (e->next_) e->next_->prev_ = e->prev_;
  if (!l.heads[e->slot_]) l.occupied &= ~(std::uint64_t{1} << e->slot_);
  e->prev_ = e->next_ = nullptr;
  e->linked_ = false;
  --size_;
  return true;
}

std::optional<timer_wheel::expiration> timer_wheel::next_expiration() const noexcept {
  // A lower level always expires before a higher one (an entry sits in the finest level that
  // distinguishes it from `elapsed_`), so the first occupied level answers.
  for (int level = 0; level < levels; ++level) {
    const auto& l = levels_[level];
    if (!l.occupied) continue;
    int pos = static_cast<int>((elapsed_ >> (6 * level)) & slot_mask);
    std::uint64_t rotated = std::rotr(l.occupied, pos);
    int slot = (std::countr_zero(rotated) + pos) & static_cast<int>(slot_mask);
    std::uint64_t level_start = elapsed_ & ~(level_range(level) - 1);
    std::uint64_t deadline = level_start + static_cast<std::uint64_t>(slot) * slot_range(level);
    if (deadline < (elapsed_ & ~(slot_range(level) - 1))) deadline += level_range(level);
    return expiration{level, slot, deadline};
  }
  return std::nullopt;
}

timer_entry* timer_wheel::take_slot(int level, int slot) noexcept {
  auto& l = levels_[level];
  timer_entry* list = l.heads[slot];
  l.heads[slot] = nullptr;
  l.occupied &= ~(std::uint64_t{1} << slot);
  return list;
}

timer_entry* timer_wheel::advance(std::int64_t now_ns) noexcept {
  const std::uint64_t now = ticks_floor(now_ns);
  timer_entry* due = nullptr;
  while (auto exp = next_expiration()) {
    if (exp->deadline > now) break;
    if (exp->deadline > elapsed_) elapsed_ = exp->deadline;
    timer_entry* e = take_slot(exp->level, exp->slot);
    while (e) {
      timer_entry* next = e->next_;
      e->linked_ = false;
      e->prev_ = nullptr;
      if (e->deadline_tick_ <= now) {
        --size_;
        e->next_ = due;
        due = e;
      } else {
        place(e);  // cascade to a finer level (or further out, for a deadline past the span)
      }
      e = next;
    }
  }
  if (now > elapsed_) elapsed_ = now;
  return due;
}

std::optional<std::int64_t> timer_wheel::next_wake() const noexcept {
  auto exp = next_expiration();
  if (!exp) return std::nullopt;
  return start_ns_ + static_cast<std::int64_t>(exp->deadline) * tick_ns;
}

std::size_t timer_wheel::clear() noexcept {
  std::size_t n = 0;
  for (int level = 0; level < levels; ++level)
    for (int slot = 0; slot < slots; ++slot)
      for (timer_entry* e = take_slot(level, slot); e;) {
        timer_entry* next = e->next_;
        e->prev_ = e->next_ = nullptr;
        e->linked_ = false;
        ++n;
        e = next;
      }
  for (timer_entry* e = std::exchange(never_, nullptr); e;) {
    timer_entry* next = e->next_;
    e->prev_ = e->next_ = nullptr;
    e->linked_ = false;
    ++n;
    e = next;
  }
  size_ = 0;
  return n;
}

}  // namespace weft::sched
