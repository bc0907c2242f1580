// Results on disk: a CSV for scripts and a dependency-free SVG for people.
//
// The SVG has two stacked panels sharing the frontier axis: prefill and decode rates differ by
// orders of magnitude, so one linear axis would flatten the decode line.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <functional>
#include <string>

#include "bench.h"
#include "host/status.h"

namespace ds4::bench {
namespace {

class OutFile {
public:
    explicit OutFile(const std::string& path) : path_(path), f_(std::fopen(path.c_str(), "w")) {
        if (!f_) throw Error(path + ": cannot write: " + std::strerror(errno));
    }
    ~OutFile() {
        if (f_) std::fclose(f_);
    }
    FILE* get() const { return f_; }
    void close() {
        bool ok = !std::ferror(f_);
        ok &= std::fclose(f_) == 0;
        f_ = nullptr;
        if (!ok) throw Error(path_ + ": write failed");
    }

private:
    std::string path_;
    FILE* f_;
};

// A round step (1, 2 or 5 × 10^k) giving about `n` intervals over [0, hi].
double nice_step(double hi, int n) {
    if (hi <= 0) return 1;
    double raw = hi / n, p = std::pow(10.0, std::floor(std::log10(raw)));
    for (double m : {1.0, 2.0, 5.0, 10.0})
        if (raw <= m * p) return m * p;
    return 10 * p;
}

std::string fmt(double v) {
    char b[32];
    if (v >= 1e6 || (v != 0 && std::fabs(v) < 0.01))
        std::snprintf(b, sizeof b, "%.3g", v);
    else if (v == std::floor(v))
        std::snprintf(b, sizeof b, "%.0f", v);
    else
        std::snprintf(b, sizeof b, "%.2f", v);
    return b;
}

// Token counts: multiples of 1024 get a "k" label once the axis is long enough to need it.
std::string fmt_tokens(double v, bool k) {
    if (!k || v == 0) return fmt(v);
    return fmt(v / 1024) + "k";
}

std::string xml_escape(const std::string& s) {
    std::string o;
    for (char c : s) {
        if (c == '&') o += "&amp;";
        else if (c == '<') o += "&lt;";
        else if (c == '>') o += "&gt;";
        else if (c == '"') o += "&quot;";
        else o += c;
    }
    return o;
}

struct Panel {
    double top, height;           // pixels
    std::string title, color;
    std::function<double(const FrontierResult&)> value;
};

}  // namespace

void write_csv(const std::string& path, const std::vector<FrontierResult>& rows) {
    OutFile f(path);
    std::fprintf(f.get(), "frontier,prefill_tps,decode_tps,kv_bytes\n");
    for (const FrontierResult& r : rows)
        std::fprintf(f.get(), "%lld,%.3f,%.3f,%llu\n", static_cast<long long>(r.frontier), r.prefill_tps, r.decode_tps,
                     static_cast<unsigned long long>(r.kv_bytes));
    f.close();
}

void write_svg(const std::string& path, const std::vector<FrontierResult>& rows, const RunInfo& info) {
    const double W = 820, left = 80, right = 30, plot_w = W - left - right;
    const double panel_h = 230, gap = 70, top0 = 92;
    const double H = top0 + 2 * panel_h + gap + 50;
    double x_max = 0;
    for (const auto& r : rows) x_max = std::max(x_max, double(r.frontier));
    const bool k_ticks = x_max >= 2048;
    double x_step = nice_step(x_max, 8);
    if (k_ticks) {  // powers of two of 1024 tokens
        x_step = 1024;
        while (x_max / x_step > 8) x_step *= 2;
    }
    x_max = std::ceil(x_max / x_step) * x_step;
    auto px = [&](double x) { return left + plot_w * (x_max > 0 ? x / x_max : 0); };

    std::string roof;
    if (info.roofline_tps() > 0) {
        double best = 0;
        for (const auto& r : rows) best = std::max(best, r.decode_tps);
        char b[96];
        std::snprintf(b, sizeof b, " (weight roofline %.1f t/s; best %.1f%%)", info.roofline_tps(),
                      100.0 * best / info.roofline_tps());
        roof = b;
    }
    Panel panels[2] = {
        {top0, panel_h, "prefill t/s of the interval ending at the frontier", "#1f77b4",
         [](const FrontierResult& r) { return r.prefill_tps; }},
        {top0 + panel_h + gap, panel_h, "decode t/s at the frontier" + roof, "#d62728",
         [](const FrontierResult& r) { return r.decode_tps; }},
    };

    OutFile f(path);
    FILE* o = f.get();
    std::fprintf(o, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" viewBox=\"0 0 %.0f %.0f\" "
                    "font-family=\"sans-serif\" font-size=\"12\">\n", W, H, W, H);
    std::fprintf(o, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    std::fprintf(o, "<text x=\"%.0f\" y=\"22\" font-size=\"15\" font-weight=\"bold\">ds4-bench: %s</text>\n", left,
                 xml_escape(info.backend + (info.device.empty() ? "" : " (" + info.device + ")")).c_str());
    std::fprintf(o, "<text x=\"%.0f\" y=\"40\" font-size=\"11\" fill=\"#555\">%s</text>\n", left,
                 xml_escape(info.model_summary).c_str());
    char line[160];
    std::snprintf(line, sizeof line, "weights read per decoded token %.1f MiB", info.bytes_per_token / 1048576.0);
    std::string facts = line;
    if (info.bandwidth > 0) {
        std::snprintf(line, sizeof line, "; COPY bandwidth %.1f GB/s", info.bandwidth / 1e9);
        facts += line;
    }
    std::fprintf(o, "<text x=\"%.0f\" y=\"56\" font-size=\"11\" fill=\"#555\">%s</text>\n", left,
                 xml_escape(facts).c_str());
    for (const Panel& p : panels) {
        double y_max = 0;
        for (const auto& r : rows) y_max = std::max(y_max, p.value(r));
        const double y_step = nice_step(y_max, 5);
        y_max = std::max(y_step, std::ceil(y_max / y_step) * y_step);
        auto py = [&](double y) { return p.top + p.height - p.height * y / y_max; };
        std::fprintf(o, "<text x=\"%.0f\" y=\"%.0f\" font-weight=\"bold\">%s</text>\n", left, p.top - 10,
                     xml_escape(p.title).c_str());
        for (double y = 0; y <= y_max * (1 + 1e-9); y += y_step) {
            std::fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", left, py(y),
                         left + plot_w, py(y));
            std::fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%s</text>\n", left - 6, py(y) + 4,
                         fmt(y).c_str());
        }
        for (double x = 0; x <= x_max * (1 + 1e-9); x += x_step) {
            std::fprintf(o, "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#eee\"/>\n", px(x), p.top,
                         px(x), p.top + p.height);
            std::fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>\n", px(x),
                         p.top + p.height + 16, fmt_tokens(x, k_ticks).c_str());
        }
        std::fprintf(o, "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#333\"/>\n",
                     left, p.top, plot_w, p.height);
        std::string pts;
        for (const auto& r : rows) {
            char b[64];
            std::snprintf(b, sizeof b, "%.1f,%.1f ", px(double(r.frontier)), py(p.value(r)));
            pts += b;
        }
        std::fprintf(o, "<polyline points=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"/>\n", pts.c_str(),
                     p.color.c_str());
        for (const auto& r : rows)
            std::fprintf(o, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3.5\" fill=\"%s\"><title>%lld: %s t/s</title></circle>\n",
                         px(double(r.frontier)), py(p.value(r)), p.color.c_str(), static_cast<long long>(r.frontier),
                         fmt(p.value(r)).c_str());
    }
    std::fprintf(o, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">context frontier (tokens)</text>\n",
                 left + plot_w / 2, H - 12);
    std::fprintf(o, "</svg>\n");
    f.close();
}

}  // namespace ds4::bench
