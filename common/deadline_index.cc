#include "common/deadline_index.h"

namespace common {

void DeadlineIndex::File(uint64_t id, Entry& entry, absl::Time key) {
  if (entry.filed != absl::InfiniteFuture()) filed_.erase({entry.filed, id});
  entry.filed = key;
  if (key != absl::InfiniteFuture()) filed_.emplace(key, id);
}

void DeadlineIndex::Set(uint64_t id, Entry& entry, absl::Time deadline) {
  entry.deadline = deadline;
  if (deadline < entry.filed) File(id, entry, deadline);
}

void DeadlineIndex::Remove(uint64_t id, Entry& entry) {
  File(id, entry, absl::InfiniteFuture());
  entry.deadline = absl::InfiniteFuture();
}

absl::Time DeadlineIndex::Next() const {
  return filed_.empty() ? absl::InfiniteFuture() : filed_.begin()->first;
}

void DeadlineIndex::TakeDue(absl::Time now, absl::FunctionRef<Entry&(uint64_t)> entry,
                            std::vector<uint64_t>& due) {
  while (!filed_.empty() && filed_.begin()->first <= now) {
    const uint64_t id = filed_.begin()->second;
    Entry& e = entry(id);
    if (e.deadline > now) {
      File(id, e, e.deadline);  // filed early: move to the real deadline
    } else {
      File(id, e, absl::InfiniteFuture());
      due.push_back(id);
    }
  }
}

}  // namespace common
