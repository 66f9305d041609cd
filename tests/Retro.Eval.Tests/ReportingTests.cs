using System.Xml.Linq;
using Retro.Eval.Reporting;
using Retro.Eval.Running;

namespace Retro.Eval.Tests;

public class ReportingTests
{
    [Fact]
    public void Line_chart_is_well_formed_svg_with_legend_and_a_point_per_value()
    {
        string svg = SvgChart.Line("BPB vs k", "k", "bpb",
            [new Series("retrieval", [(1, 1.2), (2, 1.1), (4, 1.05)]), new Series("rerank <c=16>", [(1, 1.15), (2, double.NaN)])], log2X: true);
        var doc = XDocument.Parse(svg);
        XNamespace ns = "http://www.w3.org/2000/svg";
        doc.Root!.Name.ShouldBe(ns + "svg");
        doc.Descendants(ns + "circle").Count().ShouldBe(4); // NaN skipped
        doc.Descendants(ns + "polyline").Count().ShouldBe(1); // a single point draws no line
        svg.ShouldContain("rerank &lt;c=16&gt;");
    }

    [Fact]
    public void Bar_chart_draws_one_bar_per_finite_value()
    {
        string svg = SvgChart.Bars("EM/F1", "%", ["closed-book", "retrieval"], [("EM", [10, 20]), ("F1", [15, double.NaN])]);
        XNamespace ns = "http://www.w3.org/2000/svg";
        XDocument.Parse(svg).Descendants(ns + "rect").Count(r => r.Element(ns + "title") is not null).ShouldBe(3);
    }

    [Fact]
    public void Nice_range_covers_the_data_with_round_ticks()
    {
        var (lo, hi, ticks) = SvgChart.NiceRange(0.93, 1.47);
        lo.ShouldBeLessThanOrEqualTo(0.93);
        hi.ShouldBeGreaterThanOrEqualTo(1.47);
        ticks.Length.ShouldBeInRange(3, 12);
        ticks[0].ShouldBe(lo, 1e-12);
        var flat = SvgChart.NiceRange(2, 2);
        flat.Hi.ShouldBeGreaterThan(flat.Lo);
    }

    [Fact]
    public void Diff_reports_deltas_of_matching_parts_and_changed_hashes()
    {
        static PartResult Part(double f1) => new() { Task = "qa", Dataset = "squad", Mode = "retrieval", K = 2, Metrics = new() { ["f1"] = f1 }, Timings = new() { ["wall"] = 10 } };
        var a = new RunResults { Models = new() { ["decoder"] = "retro@aaa" }, Datasets = [new("squad", "p", "h1", 5)], Parts = [Part(40), new PartResult { Task = "lm", Dataset = "lm", Mode = "closed-book" }] };
        var b = new RunResults { Models = new() { ["decoder"] = "retro@bbb" }, Datasets = [new("squad", "p", "h1", 5)], Parts = [Part(42.5)] };
        string md = ResultsDiff.Compare(a, b);
        md.ShouldContain("| qa/squad/retrieval k=2 | f1 | 40.0000 | 42.5000 | +2.5000 |");
        md.ShouldContain("model decoder: `retro@aaa` → `retro@bbb`");
        md.ShouldNotContain("dataset squad");
        md.ShouldContain("Only before: lm/lm/closed-book");
    }
}
