// ThreadSanitizer suppressions compiled into every binary that links this
// (TSAN asks for them through this weak hook; other builds ignore it).
//
// Only third-party code is suppressed, each entry with its reason:
//  * glog 0.6 initializes each VLOG() call site lazily with a plain pointer
//    store, racing benignly when two threads reach the same site first
//    (every thread stores the same value).
//  * civetweb 1.15's CivetServer constructor stores `context` after
//    mg_start() has already started civetweb's threads, and
//    CivetServer::closeHandler (run when a connection without a request
//    closes, e.g. a bare TCP connect) reads it from those threads. The
//    handler tolerates the NULL it may see; still so upstream. civetweb's two
//    other races (its stop flag, gmtime) are fixed by compile-time defines in
//    .bazelrc, not suppressed.

extern "C" const char* __tsan_default_suppressions() {
  return "race:google::InitVLOG3__\n"
         "race:CivetServer::closeHandler\n";
}
