#ifndef COMMON_DEADLINE_INDEX_H_
#define COMMON_DEADLINE_INDEX_H_

// DeadlineIndex: which of one worker's sessions are due, without a tree
// update per line.
//
// Every waiting session has a deadline (its idle or write timeout). An idle
// deadline moves forward with every line the client sends, and re-filing it
// in an ordered index each time would cost a tree update per round trip. So
// the index is lazy: a session's entry may be *earlier* than its real
// deadline. When an early entry comes due it is re-filed at the real
// deadline (one update per idle period, not per line); a deadline that moves
// earlier is re-filed at once, so nothing ever fires late.
//
// The caller keeps each session's Entry (the real deadline and where it is
// filed) next to the session and passes it in; the index itself holds only
// (filed time, id) pairs.
//
// Thread safety: none; one index belongs to one worker thread.

#include <cstdint>
#include <set>
#include <utility>
#include <vector>

#include "absl/functional/function_ref.h"
#include "absl/time/time.h"

namespace common {

class DeadlineIndex {
 public:
  struct Entry {
    absl::Time deadline = absl::InfiniteFuture();  // the real one
    absl::Time filed = absl::InfiniteFuture();     // its key in the index (<= deadline)
  };

  // Sets the real deadline of `id`; touches the index only if it moved
  // earlier than where it is filed.
  void Set(uint64_t id, Entry& entry, absl::Time deadline);
  // Forgets `id` (the session ended).
  void Remove(uint64_t id, Entry& entry);

  // The earliest filed time (InfiniteFuture if none); may be early, in which
  // case the wake-up it causes just re-files the entry.
  absl::Time Next() const;

  // Appends to `due` every id whose real deadline is <= `now`, taking them
  // out of the index, and re-files entries that came due early. `entry`
  // finds an id's Entry. Ids filed during the caller's handling of `due`
  // wait for the next call.
  void TakeDue(absl::Time now, absl::FunctionRef<Entry&(uint64_t)> entry,
               std::vector<uint64_t>& due);

  size_t size() const { return filed_.size(); }

 private:
  void File(uint64_t id, Entry& entry, absl::Time key);

  std::set<std::pair<absl::Time, uint64_t>> filed_;
};

}  // namespace common

#endif  // COMMON_DEADLINE_INDEX_H_
