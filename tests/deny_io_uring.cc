// deny_io_uring: runs a program with io_uring refused, as a container's
// seccomp profile (Docker's default one, for instance) refuses it.
//
//   deny_io_uring PROGRAM [ARGS...]
//
// Installs a seccomp-bpf filter under which io_uring_setup, io_uring_enter
// and io_uring_register fail with EPERM (everything else is allowed), then
// execs PROGRAM. The filter is inherited across exec and cannot be lifted,
// so the program sees exactly what it would see in such a container. Needs
// no privilege (PR_SET_NO_NEW_PRIVS), so it works inside Bazel's sandbox.

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(int argc, char** argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: deny_io_uring PROGRAM [ARGS...]\n");
    return 2;
  }
  constexpr unsigned kDeny = SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA);
  sock_filter filter[] = {
      // Another architecture's system call numbers mean something else.
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 3, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_enter, 2, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_register, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, kDeny),
  };
  sock_fprog program = {static_cast<unsigned short>(sizeof(filter) / sizeof(filter[0])), filter};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    perror("deny_io_uring: prctl(PR_SET_NO_NEW_PRIVS)");
    return 1;
  }
  if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &program) != 0) {
    perror("deny_io_uring: prctl(PR_SET_SECCOMP)");
    return 1;
  }
  execv(argv[1], argv + 1);
  fprintf(stderr, "deny_io_uring: exec %s: %s\n", argv[1], strerror(errno));
  return 127;
}
