using System.Diagnostics;
using Retro.Core;
using Retro.Core.Options;
using Retro.Eval.Data;
using Retro.Eval.Metrics;
using Retro.Eval.Running;

namespace Retro.Eval.Tasks;

/// <summary>
/// Question answering through the generator's question path (<see cref="GenerationRequest.IsQuestion"/>): the prompt is
/// the question text alone, left-padded to whole chunks; its neighbours are retrieved with the question as the query
/// (reranked in rerank mode); the answer is decoded greedily from the next chunk on, for at most <c>maxTokens</c>
/// tokens, and cut at the first newline (except for sets whose answers span lines: <see cref="QaTaskConfig.CutsAtNewline"/>). EM/F1 as the official SQuAD v2.0 script; answerable (HasAns) and
/// unanswerable (NoAns, scored on the prediction against the empty answer) are reported apart and together.
/// </summary>
internal sealed class QaTask(EvalModelSet models, IRetriever retriever)
{
    /// <summary>How many predictions are kept in the part for the report.</summary>
    public const int ExampleCount = 5;

    /// <summary>Answers <paramref name="questions"/> in one mode.</summary>
    public async Task<PartResult> RunAsync(IReadOnlyList<EvalQuestion> questions, RetrievalOptions options, int maxTokens, ulong seed,
        IProgress<string> progress, CancellationToken ct, bool cutAtNewline = true)
    {
        var generation = new GenerationOptions { MaxTokens = maxTokens, Temperature = 0, Seed = seed, Stop = cutAtNewline ? ["\n"] : [] };
        double em = 0, f1 = 0, emHas = 0, f1Has = 0, emNo = 0, f1No = 0;
        int has = 0, no = 0;
        var timings = new Dictionary<string, double> { ["embed"] = 0, ["search"] = 0, ["fetch"] = 0, ["rerank"] = 0, ["model"] = 0 };
        var examples = new List<QaExample>();
        long wallStart = Stopwatch.GetTimestamp();
        long generated = 0;
        foreach (var q in questions)
        {
            ct.ThrowIfCancellationRequested();
            string text = "";
            await foreach (var e in models.Generator.GenerateAsync(new GenerationRequest(q.Question, generation, options, IsQuestion: true), retriever, ct))
            {
                switch (e)
                {
                    case ChunkRetrievedEvent r:
                        timings["embed"] += r.Timings.EmbedMs;
                        timings["search"] += r.Timings.SearchMs;
                        timings["fetch"] += r.Timings.FetchMs;
                        timings["rerank"] += r.Timings.RerankMs;
                        break;
                    case GenerationCompletedEvent done:
                        text = done.Text;
                        timings["model"] += done.Stats.PrefillMs + done.Stats.DecodeMs + done.Stats.EncodeNeighboursMs;
                        generated += done.Stats.GeneratedTokens;
                        break;
                }
            }
            string prediction = CleanAnswer(text, cutAtNewline);
            var (e1, f) = SquadMetrics.Score(prediction, q.Unanswerable ? [] : q.Answers);
            em += e1; f1 += f;
            if (q.Unanswerable) { no++; emNo += e1; f1No += f; } else { has++; emHas += e1; f1Has += f; }
            if (examples.Count < ExampleCount) examples.Add(new QaExample(q.Id, q.Question, prediction, q.Answers, e1, f));
            progress.Report($"{has + no}/{questions.Count} questions, EM {100 * em / (has + no):F1} F1 {100 * f1 / (has + no):F1}");
        }
        int total = Math.Max(1, questions.Count);
        var metrics = new Dictionary<string, double> { ["em"] = 100 * em / total, ["f1"] = 100 * f1 / total };
        if (has > 0) { metrics["has_ans_em"] = 100 * emHas / has; metrics["has_ans_f1"] = 100 * f1Has / has; }
        if (no > 0) { metrics["no_ans_em"] = 100 * emNo / no; metrics["no_ans_f1"] = 100 * f1No / no; }
        var perQuery = timings.ToDictionary(p => p.Key, p => p.Value / total);
        perQuery["wall"] = Stopwatch.GetElapsedTime(wallStart).TotalMilliseconds / total;
        return new PartResult
        {
            Task = "qa",
            Metrics = metrics,
            Counts = new() { ["questions"] = questions.Count, ["answerable"] = has, ["unanswerable"] = no, ["generated_tokens"] = generated },
            Timings = perQuery,
            Examples = examples,
        };
    }

    /// <summary>The answer as scored: the generated text up to its first newline, trimmed; or, when <paramref name="cutAtNewline"/>
    /// is false, all of it with every run of whitespace as one space.</summary>
    public static string CleanAnswer(string text, bool cutAtNewline = true)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!cutAtNewline) return string.Join(' ', text.Split((char[])['\n', '\r', ' ', '\t'], StringSplitOptions.RemoveEmptyEntries));
        int nl = text.IndexOfAny(['\n', '\r']);
        return (nl >= 0 ? text[..nl] : text).Trim();
    }
}
