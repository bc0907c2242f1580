// Terminal output helpers: progress lines on stderr, styles only when writing to a TTY.
#pragma once
#include <cstdio>
#include <string>

namespace ds4::cli {

class Terminal {
public:
    static Terminal& err();  // stderr
    static Terminal& out();  // stdout

    bool tty() const { return tty_; }
    // "phase  42%" rewritten in place on a TTY; on a pipe only every 10% step is printed.
    void progress(const std::string& phase, double fraction);
    void progress_done();
    // ANSI style sequences, or "" when not a TTY.
    const char* dim() const { return tty_ ? "\033[2m" : ""; }
    const char* bold() const { return tty_ ? "\033[1m" : ""; }
    const char* reset() const { return tty_ ? "\033[0m" : ""; }
    FILE* stream() const { return f_; }

private:
    Terminal(FILE* f);
    FILE* f_;
    bool tty_;
    bool active_ = false;
    int last_step_ = -1;
    std::string last_phase_;
};

}  // namespace ds4::cli
