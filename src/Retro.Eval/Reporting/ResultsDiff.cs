using System.Globalization;
using System.Text;
using Retro.Eval.Running;

namespace Retro.Eval.Reporting;

/// <summary>
/// Compares two results files: parts matched by label (task/dataset/mode/k/candidates/exclusion); per metric the old
/// value, the new value and the difference; then model and dataset hashes that differ, and parts only in one file.
/// </summary>
internal static class ResultsDiff
{
    /// <summary>A Markdown comparison of <paramref name="a"/> (before) and <paramref name="b"/> (after).</summary>
    public static string Compare(RunResults a, RunResults b)
    {
        var md = new StringBuilder();
        md.AppendLine("# Results diff").AppendLine();
        foreach (var role in a.Models.Keys.Union(b.Models.Keys))
        {
            string x = a.Models.GetValueOrDefault(role) ?? "–", y = b.Models.GetValueOrDefault(role) ?? "–";
            if (x != y) md.AppendLine($"- model {role}: `{x}` → `{y}`");
        }
        foreach (var name in a.Datasets.Select(d => d.Name).Union(b.Datasets.Select(d => d.Name)))
        {
            string x = a.Datasets.FirstOrDefault(d => d.Name == name)?.Hash ?? "–", y = b.Datasets.FirstOrDefault(d => d.Name == name)?.Hash ?? "–";
            if (x != y) md.AppendLine($"- dataset {name}: `{x}` → `{y}` (numbers are not on the same data)");
        }
        md.AppendLine().AppendLine("| part | metric | before | after | Δ |").AppendLine("|---|---|---:|---:|---:|");
        var before = a.Parts.GroupBy(p => p.Label).ToDictionary(g => g.Key, g => g.First());
        var after = b.Parts.GroupBy(p => p.Label).ToDictionary(g => g.Key, g => g.First());
        foreach (var (label, pa) in before)
        {
            if (!after.TryGetValue(label, out var pb)) continue;
            foreach (var metric in pa.Metrics.Keys.Union(pb.Metrics.Keys))
            {
                double x = pa.Metrics.GetValueOrDefault(metric, double.NaN), y = pb.Metrics.GetValueOrDefault(metric, double.NaN);
                md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {label} | {metric} | {x:F4} | {y:F4} | {y - x:+0.0000;-0.0000;0} |"));
            }
            double wa = pa.Timings.GetValueOrDefault("wall", double.NaN), wb = pb.Timings.GetValueOrDefault("wall", double.NaN);
            md.AppendLine(string.Create(CultureInfo.InvariantCulture, $"| {label} | ms (wall) | {wa:F2} | {wb:F2} | {wb - wa:+0.00;-0.00;0} |"));
        }
        var onlyA = before.Keys.Except(after.Keys).ToList();
        var onlyB = after.Keys.Except(before.Keys).ToList();
        if (onlyA.Count > 0) md.AppendLine().AppendLine("Only before: " + string.Join(", ", onlyA));
        if (onlyB.Count > 0) md.AppendLine().AppendLine("Only after: " + string.Join(", ", onlyB));
        return md.ToString();
    }
}
