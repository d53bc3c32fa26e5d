// ThreadSanitizer suppressions compiled into every binary that links this
// (TSAN asks for them through this weak hook; other builds ignore it).
//
// Only third-party code is suppressed, each entry with its reason:
//  * glog 0.6 initializes each VLOG() call site lazily with a plain pointer
//    store, racing benignly when two threads reach the same site first
//    (every thread stores the same value).

extern "C" const char* __tsan_default_suppressions() {
  return "race:google::InitVLOG3__\n";
}
