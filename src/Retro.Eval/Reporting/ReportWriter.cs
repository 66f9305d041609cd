using System.Globalization;
using System.Text;
using System.Text.Json;
using Retro.Eval.Running;

namespace Retro.Eval.Reporting;

/// <summary>Writes <c>report.md</c> and the SVG plots of a run's results into its output folder.</summary>
internal static class ReportWriter
{
    /// <summary>Writes the report and plots; returns the report's path.</summary>
    public static string Write(RunResults results, string folder)
    {
        Directory.CreateDirectory(Path.Combine(folder, "plots"));
        var md = new StringBuilder();
        md.AppendLine("# Retro comparison: closed-book vs retrieval vs retrieval + rerank").AppendLine();
        md.AppendLine(Inv($"Run {results.Started:u} → {results.Finished:u}, {results.WallSeconds:F1} s wall; {results.PartsComputed} parts computed, {results.PartsReused} reused from cache.")).AppendLine();
        md.AppendLine("| model | id |").AppendLine("|---|---|");
        foreach (var (role, id) in results.Models) md.AppendLine($"| {role} | `{id}` |");
        md.AppendLine().AppendLine("| dataset | items | sha-256 (content + selection) | path |").AppendLine("|---|---:|---|---|");
        foreach (var d in results.Datasets) md.AppendLine($"| {d.Name} | {d.Items} | `{d.Hash}` | `{d.Path}` |");
        md.AppendLine();
        int defaultK = DefaultK(results);

        var lm = results.Parts.Where(p => p.Task == "lm").ToList();
        if (lm.Count > 0) WriteLm(md, lm, folder, defaultK);
        foreach (var group in results.Parts.Where(p => p.Task == "qa").GroupBy(p => p.Dataset)) WriteQa(md, [.. group], folder, defaultK);
        foreach (var group in results.Parts.Where(p => p.Task == "retrieval").GroupBy(p => p.Dataset)) WriteRetrieval(md, [.. group], folder);
        WriteLatency(md, results, folder, defaultK);

        md.AppendLine("## Config").AppendLine().AppendLine("```json").AppendLine(results.Config.ToJsonString(new JsonSerializerOptions { WriteIndented = true })).AppendLine("```");
        string path = Path.Combine(folder, "report.md");
        File.WriteAllText(path, md.ToString());
        return path;
    }

    private static void WriteLm(StringBuilder md, List<PartResult> lm, string folder, int defaultK)
    {
        md.AppendLine("## Language modelling (bits per byte, lower is better)").AppendLine();
        md.AppendLine("Own-document exclusion: `excl` = the scored document's chunks cannot be retrieved, `incl` = they can (leakage).").AppendLine();
        md.AppendLine("| mode | BPB | bits/token | tokens | bytes | ms/doc |").AppendLine("|---|---:|---:|---:|---:|---:|");
        foreach (var p in lm)
            md.AppendLine(Inv($"| {Cell(p)} | {p.Metrics["bpb"]:F4} | {p.Metrics.GetValueOrDefault("bits_per_token", double.NaN):F3} | {p.Counts.GetValueOrDefault("tokens")} | {p.Counts.GetValueOrDefault("bytes")} | {p.Timings.GetValueOrDefault("wall"):F1} |"));
        md.AppendLine();

        var atK = lm.Where(p => p.K == 0 || p.K == defaultK).ToList();
        var buckets = atK.SelectMany(p => p.Overlap ?? []).Select(b => b.Label).Distinct().ToList();
        md.AppendLine(Inv($"### BPB by chunk overlap with the neighbours attended to (k = {defaultK})")).AppendLine();
        md.AppendLine("Overlap of a predicted chunk = fraction of its tokens inside an 8-token span that also occurs in a neighbour (chunk + continuation) of the previous chunk; `none` = tokens that attend to no neighbours (the first chunk of a window, closed-book).").AppendLine();
        md.AppendLine("| mode | " + string.Join(" | ", buckets) + " |").AppendLine("|---|" + string.Concat(buckets.Select(_ => "---:|")));
        foreach (var p in atK)
        {
            var cells = buckets.Select(l => p.Overlap?.FirstOrDefault(b => b.Label == l) is { Tokens: > 0 } b ? Inv($"{b.Bpb:F3} ({b.Tokens} tok)") : "–");
            md.AppendLine($"| {Cell(p)} | {string.Join(" | ", cells)} |");
        }
        md.AppendLine();

        Save(folder, "lm_bpb_modes.svg", SvgChart.Bars($"BPB per mode (k = {defaultK})", "bits per byte", [.. atK.Select(Cell)],
            [("BPB", [.. atK.Select(p => p.Metrics["bpb"])])]));
        Save(folder, "lm_bpb_vs_k.svg", SvgChart.Line("BPB vs k", "k (neighbours per chunk)", "bits per byte", SweepSeries(lm, p => p.Metrics["bpb"]), log2X: true));
        Save(folder, "lm_overlap.svg", SvgChart.Bars($"BPB by chunk overlap (k = {defaultK})", "bits per byte", buckets,
            [.. atK.Where(p => p.Mode != Mode.ClosedBook).Select(p => (Cell(p), buckets.Select(l => p.Overlap?.FirstOrDefault(b => b.Label == l)?.Bpb ?? double.NaN).ToArray()))]));
        md.AppendLine("![BPB per mode](plots/lm_bpb_modes.svg) ![BPB vs k](plots/lm_bpb_vs_k.svg) ![BPB by overlap](plots/lm_overlap.svg)").AppendLine();
    }

    private static void WriteQa(StringBuilder md, List<PartResult> parts, string folder, int defaultK)
    {
        string name = parts[0].Dataset;
        md.AppendLine($"## Question answering: {name} (EM / F1, official SQuAD normalisation)").AppendLine();
        md.AppendLine("| mode | EM | F1 | HasAns EM | HasAns F1 | NoAns EM | questions | ms/question |").AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var p in parts)
            md.AppendLine(Inv($"| {Cell(p)} | {p.Metrics["em"]:F1} | {p.Metrics["f1"]:F1} | {M(p, "has_ans_em")} | {M(p, "has_ans_f1")} | {M(p, "no_ans_em")} | {p.Counts.GetValueOrDefault("questions")} | {p.Timings.GetValueOrDefault("wall"):F1} |"));
        md.AppendLine();
        var first = parts.FirstOrDefault(p => p.Mode != Mode.ClosedBook && p.K == defaultK) ?? parts[0];
        if (first.Examples is { Count: > 0 })
        {
            md.AppendLine($"Examples ({Cell(first)}):").AppendLine().AppendLine("| question | prediction | gold | F1 |").AppendLine("|---|---|---|---:|");
            foreach (var e in first.Examples)
                md.AppendLine(Inv($"| {Md(e.Question)} | {Md(e.Prediction)} | {Md(e.Answers.Count == 0 ? "(unanswerable)" : e.Answers[0])} | {100 * e.F1:F0} |"));
            md.AppendLine();
        }
        var atK = parts.Where(p => p.K == 0 || p.K == defaultK).ToList();
        string file = $"qa_{Safe(name)}_modes.svg", fileK = $"qa_{Safe(name)}_vs_k.svg";
        Save(folder, file, SvgChart.Bars($"{name}: EM / F1 per mode (k = {defaultK})", "score (%)", [.. atK.Select(Cell)],
            [("EM", [.. atK.Select(p => p.Metrics["em"])]), ("F1", [.. atK.Select(p => p.Metrics["f1"])])]));
        Save(folder, fileK, SvgChart.Line($"{name}: F1 vs k", "k (neighbours)", "F1 (%)", SweepSeries(parts, p => p.Metrics["f1"]), log2X: true));
        md.AppendLine($"![EM/F1 per mode](plots/{file}) ![F1 vs k](plots/{fileK})").AppendLine();
    }

    private static void WriteRetrieval(StringBuilder md, List<PartResult> parts, string folder)
    {
        string name = parts[0].Dataset;
        var ks = parts[0].Metrics.Keys.Where(k => k.StartsWith("recall@", StringComparison.Ordinal)).ToList();
        md.AppendLine($"## Retrieval: {name}").AppendLine();
        md.AppendLine("| mode | " + string.Join(" | ", ks) + " | MRR@10 | nDCG@10 | queries scored | ms/query |").AppendLine("|---|" + string.Concat(ks.Select(_ => "---:|")) + "---:|---:|---:|---:|");
        foreach (var p in parts)
            md.AppendLine(Inv($"| {RetrievalCell(p)} | {string.Join(" | ", ks.Select(k => p.Metrics[k].ToString("F3", CultureInfo.InvariantCulture)))} | {p.Metrics["mrr@10"]:F3} | {p.Metrics["ndcg@10"]:F3} | {p.Counts.GetValueOrDefault("scored")} | {p.Timings.GetValueOrDefault("wall"):F1} |"));
        md.AppendLine();
        var series = parts.Select(p => new Series(RetrievalCell(p),
            [.. ks.Select(k => ((double)int.Parse(k["recall@".Length..], CultureInfo.InvariantCulture), p.Metrics[k]))])).ToList();
        string file = $"retrieval_{Safe(name)}_recall.svg";
        Save(folder, file, SvgChart.Line($"{name}: recall@k", "k", "recall", series, log2X: true));
        md.AppendLine($"![recall@k](plots/{file})").AppendLine();
    }

    private static void WriteLatency(StringBuilder md, RunResults results, string folder, int defaultK)
    {
        string[] stages = ["embed", "search", "fetch", "rerank", "model"];
        var parts = results.Parts.Where(p => p.K == 0 || p.K == defaultK || p.Task == "retrieval").ToList();
        if (parts.Count == 0) return;
        md.AppendLine("## Latency per stage (mean ms per document / question / query)").AppendLine();
        md.AppendLine("| part | " + string.Join(" | ", stages) + " | wall |").AppendLine("|---|" + string.Concat(stages.Select(_ => "---:|")) + "---:|");
        foreach (var p in parts)
            md.AppendLine(Inv($"| {p.Label} | {string.Join(" | ", stages.Select(s => p.Timings.TryGetValue(s, out double v) ? v.ToString("F2", CultureInfo.InvariantCulture) : "–"))} | {p.Timings.GetValueOrDefault("wall"):F2} |"));
        md.AppendLine();
        foreach (var task in parts.GroupBy(p => p.Task))
        {
            string unit = task.Key switch { "lm" => "document", "qa" => "question", _ => "query" };
            Save(folder, $"latency_{task.Key}.svg", SvgChart.Bars($"Latency per stage: {task.Key}", $"ms per {unit} (mean)", stages,
                [.. task.Take(10).Select(p => (p.Label, stages.Select(s => p.Timings.TryGetValue(s, out double v) ? v : double.NaN).ToArray()))]));
            md.Append($"![latency {task.Key}](plots/latency_{task.Key}.svg) ");
        }
        md.AppendLine().AppendLine();
    }

    /// <summary>Series over k for the k sweep: one per (mode, candidates, exclusion); closed-book drawn flat across k.</summary>
    private static List<Series> SweepSeries(List<PartResult> parts, Func<PartResult, double> value)
    {
        var ks = parts.Where(p => p.K > 0).Select(p => p.K).Distinct().OrderBy(k => k).ToList();
        var list = new List<Series>();
        foreach (var p in parts.Where(p => p.Mode == Mode.ClosedBook))
            list.Add(new Series("closed-book", [.. ks.Select(k => ((double)k, value(p)))]));
        foreach (var g in parts.Where(p => p.Mode != Mode.ClosedBook).GroupBy(p => (p.Mode, p.Candidates, p.ExcludeOwnDocument, p.MinNeighbourMatch, p.NeighbourTail, p.NeighbourCopy)))
        {
            string name = g.Key.Mode + (g.Key.Candidates > 0 ? $" c={g.Key.Candidates}" : "") + (g.Key.ExcludeOwnDocument is { } e ? (e ? " excl" : " incl") : "")
                + PartResult.GateLabel(g.Key.MinNeighbourMatch, g.Key.NeighbourTail, g.Key.NeighbourCopy);
            list.Add(new Series(name, [.. g.OrderBy(p => p.K).Select(p => ((double)p.K, value(p)))]));
        }
        return list;
    }

    private static int DefaultK(RunResults results)
    {
        var ks = results.Parts.Where(p => p.Task != "retrieval" && p.K > 0).Select(p => p.K).Distinct().ToList();
        return ks.Contains(2) || ks.Count == 0 ? 2 : ks.Min();
    }

    private static string Cell(PartResult p) => p.Mode + (p.K > 0 ? $" k={p.K}" : "") + (p.Candidates > 0 ? $" c={p.Candidates}" : "")
        + (p.ExcludeOwnDocument is { } e && p.Mode != Mode.ClosedBook ? (e ? " excl" : " incl") : "") + PartResult.GateLabel(p.MinNeighbourMatch, p.NeighbourTail, p.NeighbourCopy);
    private static string RetrievalCell(PartResult p)
    {
        string search = p.Search switch
        {
            SearchSide.Sparse => "BM25",
            SearchSide.Hybrid => "hybrid (bi-encoder + BM25, RRF)",
            { } s when s.StartsWith(SearchSide.Hybrid + ":", StringComparison.Ordinal) && SearchSide.Options(s) is { } o =>
                string.Create(System.Globalization.CultureInfo.InvariantCulture, $"hybrid (RRF k={o.RrfK}, dense weight {o.DenseWeight})"),
            _ => "bi-encoder",
        };
        return Mode.RerankWeight(p.Mode) switch
        {
            null => search,
            1f => $"{search} + rerank (c={p.Candidates})",
            { } w => string.Create(CultureInfo.InvariantCulture, $"{search} + rerank (c={p.Candidates}, cross-encoder weight {w})"),
        };
    }
    private static string M(PartResult p, string key) => p.Metrics.TryGetValue(key, out double v) ? v.ToString("F1", CultureInfo.InvariantCulture) : "–";
    private static string Md(string s) => s.Replace("|", "\\|", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
    private static string Safe(string s) => new([.. s.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' ? c : '_')]);
    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
    private static void Save(string folder, string name, string svg) => File.WriteAllText(Path.Combine(folder, "plots", name), svg);
}
