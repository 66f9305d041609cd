using System.Globalization;
using System.Security;
using System.Text;

namespace Retro.Eval.Reporting;

/// <summary>A named series of (x, y) points (line charts) or of values per category (bar charts).</summary>
internal sealed record Series(string Name, IReadOnlyList<(double X, double Y)> Points);

/// <summary>
/// Small self-contained SVG charts: line charts (numeric or log2 x axis) and grouped bar charts, with axes, ticks,
/// gridlines, a title and a legend. Non-finite values are skipped.
/// </summary>
internal static class SvgChart
{
    private const int Width = 900, Height = 420, Left = 80, Right = 300, Top = 40, Bottom = 60;
    private static readonly string[] Colors = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"];

    /// <summary>A line chart; with <paramref name="log2X"/> the x axis is log2-spaced (for k = 1, 2, 4, ...).</summary>
    public static string Line(string title, string xLabel, string yLabel, IReadOnlyList<Series> series, bool log2X = false)
    {
        var pts = series.SelectMany(s => s.Points).Where(p => double.IsFinite(p.X) && double.IsFinite(p.Y) && (!log2X || p.X > 0)).ToList();
        var sb = Begin(title);
        if (pts.Count == 0) return End(sb, "no data");
        Func<double, double> fx = log2X ? Math.Log2 : x => x;
        double x0 = pts.Min(p => fx(p.X)), x1 = pts.Max(p => fx(p.X));
        if (x1 == x0) { x0 -= 1; x1 += 1; }
        var (y0, y1, yTicks) = NiceRange(pts.Min(p => p.Y), pts.Max(p => p.Y));
        double Px(double x) => Left + (fx(x) - x0) / (x1 - x0) * (Width - Left - Right);
        double Py(double y) => Height - Bottom - (y - y0) / (y1 - y0) * (Height - Top - Bottom);
        var xTicks = pts.Select(p => p.X).Distinct().OrderBy(x => x).ToList();
        if (!log2X && xTicks.Count > 10) xTicks = [.. NiceRange(xTicks[0], xTicks[^1]).Ticks];
        Axes(sb, xLabel, yLabel, yTicks, Py, xTicks.Select(x => (Px(x), Fmt(x))));
        for (int i = 0; i < series.Count; i++)
        {
            string color = Colors[i % Colors.Length];
            var p = series[i].Points.Where(q => double.IsFinite(q.X) && double.IsFinite(q.Y) && (!log2X || q.X > 0)).OrderBy(q => q.X).ToList();
            if (p.Count > 1)
                sb.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\" points=\"{string.Join(' ', p.Select(q => $"{F(Px(q.X))},{F(Py(q.Y))}"))}\"/>\n");
            foreach (var q in p) sb.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{F(Px(q.X))}\" cy=\"{F(Py(q.Y))}\" r=\"3.5\" fill=\"{color}\"/>\n");
        }
        Legend(sb, series.Select(s => s.Name).ToList());
        return End(sb, null);
    }

    /// <summary>A grouped bar chart: one group per category, one bar per series (value per category, NaN = no bar).</summary>
    public static string Bars(string title, string yLabel, IReadOnlyList<string> categories, IReadOnlyList<(string Name, double[] Values)> series)
    {
        var sb = Begin(title);
        var vals = series.SelectMany(s => s.Values).Where(double.IsFinite).ToList();
        if (vals.Count == 0 || categories.Count == 0) return End(sb, "no data");
        var (y0, y1, yTicks) = NiceRange(Math.Min(0, vals.Min()), Math.Max(0, vals.Max()));
        double Py(double y) => Height - Bottom - (y - y0) / (y1 - y0) * (Height - Top - Bottom);
        double groupW = (double)(Width - Left - Right) / categories.Count;
        double barW = groupW * 0.8 / Math.Max(1, series.Count);
        Axes(sb, "", yLabel, yTicks, Py, categories.Select((c, i) => (Left + groupW * (i + 0.5), c)));
        for (int s = 0; s < series.Count; s++)
        {
            string color = Colors[s % Colors.Length];
            for (int c = 0; c < categories.Count && c < series[s].Values.Length; c++)
            {
                double v = series[s].Values[c];
                if (!double.IsFinite(v)) continue;
                double x = Left + groupW * c + groupW * 0.1 + barW * s;
                double top = Py(Math.Max(v, 0)), bottom = Py(Math.Min(v, 0));
                sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{F(x)}\" y=\"{F(top)}\" width=\"{F(barW)}\" height=\"{F(Math.Max(0.5, bottom - top))}\" fill=\"{color}\"><title>{Esc(series[s].Name)}: {Fmt(v)}</title></rect>\n");
            }
        }
        Legend(sb, series.Select(s => s.Name).ToList());
        return End(sb, null);
    }

    /// <summary>An axis range covering [lo, hi] with 4–8 round ticks.</summary>
    internal static (double Lo, double Hi, double[] Ticks) NiceRange(double lo, double hi)
    {
        if (!(hi > lo)) { double pad = Math.Abs(lo) > 0 ? Math.Abs(lo) * 0.1 : 1; lo -= pad; hi += pad; }
        double raw = (hi - lo) / 5, mag = Math.Pow(10, Math.Floor(Math.Log10(raw))), r = raw / mag;
        double step = (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * mag;
        double a = Math.Floor(lo / step) * step, b = Math.Ceiling(hi / step) * step;
        var ticks = new List<double>();
        for (double t = a; t <= b + step / 2; t += step) ticks.Add(Math.Round(t / step) * step);
        return (a, b, [.. ticks]);
    }

    private static StringBuilder Begin(string title)
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{Width}\" height=\"{Height}\" viewBox=\"0 0 {Width} {Height}\" font-family=\"sans-serif\" font-size=\"12\">\n");
        sb.Append(CultureInfo.InvariantCulture, $"<rect width=\"{Width}\" height=\"{Height}\" fill=\"white\"/>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{(Width - Right + Left) / 2}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" font-weight=\"bold\">{Esc(title)}</text>\n");
        return sb;
    }

    private static string End(StringBuilder sb, string? message)
    {
        if (message is not null) sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{Width / 2}\" y=\"{Height / 2}\" text-anchor=\"middle\">{Esc(message)}</text>\n");
        return sb.Append("</svg>\n").ToString();
    }

    private static void Axes(StringBuilder sb, string xLabel, string yLabel, double[] yTicks, Func<double, double> py, IEnumerable<(double X, string Label)> xTicks)
    {
        int x0 = Left, x1 = Width - Right, yb = Height - Bottom;
        // enough decimals to tell neighbouring ticks apart
        double step = yTicks.Length > 1 ? yTicks[1] - yTicks[0] : 1;
        int decimals = Math.Clamp((int)Math.Ceiling(-Math.Log10(step) - 1e-9), 0, 8);
        foreach (double t in yTicks)
        {
            double y = py(t);
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{x0}\" y1=\"{F(y)}\" x2=\"{x1}\" y2=\"{F(y)}\" stroke=\"#e5e5e5\"/>\n");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{x0 - 6}\" y=\"{F(y + 4)}\" text-anchor=\"end\">{t.ToString("F" + decimals, CultureInfo.InvariantCulture)}</text>\n");
        }
        sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{x0}\" y1=\"{Top}\" x2=\"{x0}\" y2=\"{yb}\" stroke=\"black\"/>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{x0}\" y1=\"{yb}\" x2=\"{x1}\" y2=\"{yb}\" stroke=\"black\"/>\n");
        foreach (var (x, label) in xTicks)
        {
            sb.Append(CultureInfo.InvariantCulture, $"<line x1=\"{F(x)}\" y1=\"{yb}\" x2=\"{F(x)}\" y2=\"{yb + 5}\" stroke=\"black\"/>\n");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{F(x)}\" y=\"{yb + 18}\" text-anchor=\"middle\">{Esc(label)}</text>\n");
        }
        sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{(x0 + x1) / 2}\" y=\"{Height - 18}\" text-anchor=\"middle\">{Esc(xLabel)}</text>\n");
        sb.Append(CultureInfo.InvariantCulture, $"<text transform=\"translate(18,{(Top + yb) / 2}) rotate(-90)\" text-anchor=\"middle\">{Esc(yLabel)}</text>\n");
    }

    private static void Legend(StringBuilder sb, IReadOnlyList<string> names)
    {
        int x = Width - Right + 14;
        for (int i = 0; i < names.Count; i++)
        {
            int y = Top + 8 + i * 18;
            sb.Append(CultureInfo.InvariantCulture, $"<rect x=\"{x}\" y=\"{y - 9}\" width=\"12\" height=\"12\" fill=\"{Colors[i % Colors.Length]}\"/>\n");
            sb.Append(CultureInfo.InvariantCulture, $"<text x=\"{x + 18}\" y=\"{y + 1}\">{Esc(names[i])}</text>\n");
        }
    }

    private static string F(double v) => v.ToString("0.##", CultureInfo.InvariantCulture);
    private static string Fmt(double v) => Math.Abs(v) >= 100 || v == Math.Round(v) ? v.ToString("0.##", CultureInfo.InvariantCulture) : v.ToString("0.###", CultureInfo.InvariantCulture);
    private static string Esc(string s) => SecurityElement.Escape(s) ?? "";
}
