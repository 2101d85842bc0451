/* sem_clockwait for programs run under libfaketime (tools/clock_ahead.py preloads it before libfaketime).
 *
 * libfaketime 0.9.10 (Debian 12) moves CLOCK_MONOTONIC with the offset and translates sem_timedwait's deadline,
 * but not sem_clockwait's, which Python 3.11 uses for every timed lock (Condition.wait, Event.wait,
 * queue.get(timeout=...)): the deadline, taken from the moved monotonic clock, lies years ahead for the kernel,
 * and the wait never times out. This turns the deadline into a CLOCK_REALTIME one through the moved clocks and
 * calls sem_timedwait, which libfaketime translates. (With FAKETIME_DONT_FAKE_MONOTONIC, its clock_nanosleep
 * wrapper answers time.sleep with EINVAL instead.) For test runs with a moved clock only.
 */
#define _GNU_SOURCE
#include <semaphore.h>
#include <time.h>

int sem_clockwait(sem_t *sem, clockid_t clock, const struct timespec *abstime) {
    struct timespec now, real, deadline;
    clock_gettime(clock, &now);
    clock_gettime(CLOCK_REALTIME, &real);
    long long left = (long long)(abstime->tv_sec - now.tv_sec) * 1000000000LL + (abstime->tv_nsec - now.tv_nsec);
    if (left < 0)
        left = 0;
    long long ns = real.tv_nsec + left;
    deadline.tv_sec = real.tv_sec + ns / 1000000000LL;
    deadline.tv_nsec = ns % 1000000000LL;
    return sem_timedwait(sem, &deadline);
}
