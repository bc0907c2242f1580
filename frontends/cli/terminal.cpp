#include "terminal.h"

#include <unistd.h>

namespace ds4::cli {

Terminal::Terminal(FILE* f) : f_(f), tty_(isatty(fileno(f)) != 0) {}

Terminal& Terminal::err() {
    static Terminal t(stderr);
    return t;
}

Terminal& Terminal::out() {
    static Terminal t(stdout);
    return t;
}

void Terminal::progress(const std::string& phase, double fraction) {
    int pct = static_cast<int>(fraction * 100.0 + 0.5);
    if (pct < 0) pct = 0;
    if (pct > 100) pct = 100;
    if (phase != last_phase_) last_step_ = -1;
    if (tty_) {
        std::fprintf(f_, "\r\033[K%s %3d%%", phase.c_str(), pct);
        std::fflush(f_);
        active_ = true;
    } else if (pct / 10 != last_step_) {
        std::fprintf(f_, "%s %d%%\n", phase.c_str(), pct);
    }
    last_step_ = pct / 10;
    last_phase_ = phase;
}

void Terminal::progress_done() {
    if (tty_ && active_) std::fprintf(f_, "\r\033[K");
    active_ = false;
    last_phase_.clear();
}

}  // namespace ds4::cli
