#include <weft/cancel.hpp>

namespace weft {

cancel_registration::cancel_registration(cancel_registration&&) noexcept = default;

cancel_registration& cancel_registration::operator=(cancel_registration&& o) noexcept {
  if (this != &o) {
    cancel_registration dying(std::move(*this));
    node_ = std::move(o.node_);
  }
  return *this;
}

cancel_registration::~cancel_registration() {
  if (!node_) return;
  node_->state->remove(node_.get());
  node_->state->release();
}

cancel_registration cancel_token::on_cancel(std::function<void()> fn) const {
  cancel_registration reg;
  if (!s_) return reg;
  auto n = std::make_unique<cancel_registration::node>();
  n->fn = std::move(fn);
  n->state = s_;
  n->cancel_callback::fn = [](detail::cancel_callback* cb) noexcept {
    static_cast<cancel_registration::node*>(cb)->fn();
  };
  if (!s_->add(n.get())) {
    n->fn();  // already cancelled: run now
    return reg;
  }
  s_->add_ref();
  reg.node_ = std::move(n);
  return reg;
}

cancel_source::cancel_source() : s_(detail::cancel_state::create()) {}

cancel_source::cancel_source(const cancel_token& parent) : cancel_source() {
  // The link lives in this source and is unregistered (waiting for a running callback) before
  // the state is released, so the raw pointer cannot dangle.
  detail::cancel_state* self = s_;
  link_ = parent.on_cancel([self] { self->request(); });
}

cancel_source::cancel_source(cancel_source&& o) noexcept
    : s_(std::exchange(o.s_, nullptr)), link_(std::move(o.link_)) {}

cancel_source& cancel_source::operator=(cancel_source&& o) noexcept {
  if (this != &o) {
    link_ = std::move(o.link_);
    std::swap(s_, o.s_);
  }
  return *this;
}

cancel_source::~cancel_source() {
  link_ = cancel_registration();  // unregister from the parent before the state may go
  if (s_) s_->release();
}

bool cancel_source::cancel() { return s_ && s_->request(); }

}  // namespace weft
