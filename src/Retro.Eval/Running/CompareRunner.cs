using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Retro.Core;
using Retro.Core.Options;
using Retro.Eval.Data;
using Retro.Eval.Reporting;
using Retro.Eval.Tasks;

namespace Retro.Eval.Running;

/// <summary>
/// Runs a comparison: loads the models, builds (or reuses) each dataset's index, runs every (task, mode, k, candidates)
/// part not already cached under <c>{output}/parts</c>, then writes results.json, report.md and the plots.
/// </summary>
internal sealed class CompareRunner(EvalConfig config, TextWriter log, bool useCache = true)
{
    private readonly PartCache _cache = new(Path.Combine(config.Output, "parts"));
    private readonly Dictionary<string, DatasetInfo> _datasets = [];
    private readonly List<PartResult> _parts = [];
    private readonly int _maxK = config.K.Count == 0 ? 0 : config.K.Max();
    private EvalModelSet _models = null!;
    private int _computed, _reused;
    private long _clock;

    /// <summary>
    /// Runs everything and returns the results written to <c>results.json</c>: the models loaded, then language
    /// modelling, each question-answering set and each retrieval set, then the results and the report. Once per runner.
    /// </summary>
    public async Task<RunResults> RunAsync(CancellationToken ct)
    {
        config.Validate();
        if (_clock != 0) throw new InvalidOperationException("a CompareRunner runs once");
        Directory.CreateDirectory(config.Output);
        var started = DateTimeOffset.UtcNow;
        _clock = Stopwatch.GetTimestamp();
        using var models = new EvalModelSet(config.Models, config.Threads, _maxK);
        _models = models;
        if (config.Lm is { } lm) await LanguageModellingAsync(lm, ct);
        foreach (var qa in config.Qa) await QuestionAnsweringAsync(qa, ct);
        foreach (var rt in config.Retrieval) await RetrievalAsync(rt, ct);
        return WriteResults(started);
    }

    /// <summary>A part of the sweep: from the cache when it holds it (and the run uses it), else run, timed and cached.</summary>
    private async Task<PartResult> PartAsync(PartResult template, object partConfig, string datasetHash, Func<IProgress<string>, Task<PartResult>> run)
    {
        // Dense parts keep the key they had before sparse search existed, so earlier runs' caches stay valid.
        object[] keyParts = [template.Task, template.Dataset, template.Mode, template.K, template.Candidates, template.ExcludeOwnDocument!,
            partConfig, _models.Ids, datasetHash, config.Seed];
        if (template.Search is not null) keyParts = [.. keyParts, template.Search];
        if (template.MinNeighbourMatch is { } gate) keyParts = [.. keyParts, "gate", gate]; // ungated parts keep their keys
        if (template.NeighbourTail is { } tail) keyParts = [.. keyParts, "tail", tail];
        if (template.NeighbourCopy == true) keyParts = [.. keyParts, "copy", _models.Decoder.Config.NeighbourCopy!];
        string key = PartCache.KeyOf(keyParts);
        if (useCache && _cache.TryGet(key) is { } hit)
        {
            log.WriteLine($"[{template.Label}] reused");
            _reused++;
            return hit;
        }
        var progress = new LineProgress(log, template.Label);
        long start = Stopwatch.GetTimestamp();
        var result = await run(progress);
        result = result with { Key = key, Dataset = template.Dataset, Mode = template.Mode, K = template.K, Candidates = template.Candidates, ExcludeOwnDocument = template.ExcludeOwnDocument, Search = template.Search, MinNeighbourMatch = template.MinNeighbourMatch, NeighbourTail = template.NeighbourTail, NeighbourCopy = template.NeighbourCopy };
        progress.Done($"done in {Stopwatch.GetElapsedTime(start).TotalSeconds:F1} s");
        _cache.Put(result);
        _computed++;
        return result;
    }

    /// <summary>Language modelling: bits-per-byte of the held-out documents, closed-book and with retrieval from their corpus.</summary>
    private async Task LanguageModellingAsync(LmTaskConfig lm, CancellationToken ct)
    {
        var docs = Datasets.ReadDocuments(lm.Documents, lm.Limit, lm.Skip);
        var corpus = new List<EvalDocument>(docs);
        foreach (var file in lm.Corpus) corpus.AddRange(Datasets.ReadDocuments(file, lm.CorpusLimit));
        string hash = Datasets.HashPath(lm.Documents) + string.Concat(lm.Corpus.Select(Datasets.HashPath));
        hash = Datasets.ShortHash(hash + JsonSerializer.Serialize(lm, EvalConfig.Json));
        _datasets["lm"] = new DatasetInfo("lm", lm.Documents, hash, docs.Count);
        await using var store = config.Modes.Any(m => m != Mode.ClosedBook)
            ? await IndexBuilder.BuildAsync("lm", corpus, config, _models, new LineProgress(log, "index lm"), ct) : null;
        foreach (var (mode, k, c) in Cells(forLm: true))
        {
            var retriever = Retriever(store, _models, mode);
            var task = new LmTask(_models, retriever);
            var excludes = mode == Mode.ClosedBook ? [(bool?)null] : lm.ExcludeOwnDocument.Distinct().Select(e => (bool?)e).ToList();
            var gates = mode == Mode.ClosedBook ? [0.0] : lm.MinNeighbourMatch.Distinct().ToList();
            var tails = mode == Mode.ClosedBook ? [0] : lm.NeighbourTail.Distinct().ToList();
            foreach (var exclude in excludes)
                foreach (double gate in gates)
                foreach (int tail in tails)
                foreach (bool copy in Copies(mode))
                {
                    var template = new PartResult { Task = "lm", Dataset = "lm", Mode = mode, K = k, Candidates = c, ExcludeOwnDocument = exclude, MinNeighbourMatch = gate > 0 ? gate : null, NeighbourTail = tail > 0 ? tail : null, NeighbourCopy = copy ? true : null };
                    var options = Options(mode, k, c) is { } o ? o with { MinNeighbourMatch = gate, NeighbourTail = tail, NeighbourCopy = copy } : null;
                    _parts.Add(await PartAsync(template, new { lm.Context }, hash,
                        p => task.RunAsync(docs, options, exclude ?? false, lm.Context, p, ct)));
                }
        }
    }

    /// <summary>Question answering: one set's questions in every cell of the sweep, with each candidate search of the run.</summary>
    private async Task QuestionAnsweringAsync(QaTaskConfig qa, CancellationToken ct)
    {
        List<EvalQuestion> questions;
        List<EvalDocument> passages = [];
        if (qa.Format == "squad") (questions, passages) = Datasets.ReadSquad(qa.Path, qa.Limit);
        else if (qa.Format == "definitions")
        {
            var defs = Datasets.ReadDefinitions(qa.Path, EvalConfig.DefinitionsSplit(qa.Split, qa.Name), qa.Limit);
            (questions, passages) = (defs.Questions, defs.Passages);
        }
        else questions = Datasets.ReadQuestionsJsonl(qa.Path, qa.Limit);
        string hash = Datasets.ShortHash(Datasets.HashPath(qa.Path) + JsonSerializer.Serialize(qa, EvalConfig.Json));
        _datasets[qa.Name] = new DatasetInfo(qa.Name, qa.Path, hash, questions.Count);
        IVectorStore? store = null;
        if (config.Modes.Any(m => m != Mode.ClosedBook))
        {
            if (qa.Scope == "collection") store = await IndexBuilder.OpenCollectionAsync(config, _models, ct);
            else if (passages.Count == 0) throw new InvalidDataException($"qa '{qa.Name}': scope 'dataset' needs SQuAD passages; use scope 'collection' for {qa.Format}");
            else store = await IndexBuilder.BuildAsync(qa.Name, passages, config, _models, new LineProgress(log, $"index {qa.Name}"), ct);
        }
        await using var _ = store;
        foreach (var (mode, k, c) in Cells(forLm: false))
        {
            var task = new QaTask(_models, Retriever(store, _models, mode));
            // closed-book once; every retrieval mode with each candidate search of the run
            foreach (string search in mode == Mode.ClosedBook ? [SearchSide.Dense] : config.Search)
            foreach (bool copy in Copies(mode))
            {
                var template = new PartResult { Task = "qa", Dataset = qa.Name, Mode = mode, K = k, Candidates = c, Search = search == SearchSide.Dense ? null : search, NeighbourCopy = copy ? true : null };
                var options = SearchSide.Options(search, Options(mode, k, c) ?? new RetrievalOptions { Rerank = false })! with { NeighbourCopy = copy };
                _parts.Add(await PartAsync(template, new { qa.MaxTokens, qa.Scope, qa.CutsAtNewline }, hash,
                    p => task.RunAsync(questions, options, qa.MaxTokens, config.Seed, p, ct, qa.CutsAtNewline)));
            }
        }
    }

    /// <summary>Retrieval: one set's queries ranked in every retrieval mode and candidate search, to the run's depth.</summary>
    private async Task RetrievalAsync(RetrievalTaskConfig rt, CancellationToken ct)
    {
        List<EvalQuery> queries;
        List<EvalDocument> corpus;
        Func<string, string>? relevanceKey = null;
        if (rt.Format == "beir") (queries, corpus) = Datasets.ReadBeir(rt.Path, rt.Limit);
        else if (rt.Format == "definitions")
        {
            // a question names a term: any entry of the term is relevant, so documents are scored as their terms
            var (_, passages, set) = Datasets.ReadDefinitions(rt.Path, EvalConfig.DefinitionsSplit(rt.Split, rt.Name), rt.Limit);
            queries = [.. set.Entries.Select(e => new EvalQuery(e.Url, e.Question, new Dictionary<string, int> { [e.Term] = 1 }))];
            corpus = passages;
            relevanceKey = id => set.TermOfDocument.TryGetValue(id, out var term) ? term : id;
        }
        else
        {
            var (questions, passages) = Datasets.ReadSquad(rt.Path, rt.Limit);
            queries = [.. questions.Select(q => new EvalQuery(q.Id, q.Question, new Dictionary<string, int> { [q.PassageId!] = 1 }))];
            corpus = passages;
        }
        string hash = Datasets.ShortHash(Datasets.HashPath(rt.Path) + JsonSerializer.Serialize(rt, EvalConfig.Json));
        _datasets[rt.Name] = new DatasetInfo(rt.Name, rt.Path, hash, queries.Count);
        if (!config.Modes.Any(m => m != Mode.ClosedBook)) return;
        await using var store = await IndexBuilder.BuildAsync(rt.Name, corpus, config, _models, new LineProgress(log, $"index {rt.Name}"), ct);
        int depth = config.RetrievalDepth ?? Math.Max(10, _maxK);
        var ks = config.K.Append(depth).Distinct().Order().ToList();
        foreach (string search in config.Search)
        {
            foreach (var mode in config.Modes.Where(m => m != Mode.ClosedBook))
            {
                var retriever = Retriever(store, _models, mode);
                var candidates = Mode.IsRerank(mode) ? config.Candidates.Where(c => c >= depth).DefaultIfEmpty(depth).Distinct().ToList() : [0];
                foreach (int c in candidates)
                {
                    var template = new PartResult { Task = "retrieval", Dataset = rt.Name, Mode = mode, K = depth, Candidates = c, Search = search == SearchSide.Dense ? null : search };
                    var options = SearchSide.Options(search, new RetrievalOptions { K = depth, Candidates = Math.Max(c, depth), Rerank = Mode.IsRerank(mode), RerankWeight = Mode.RerankWeight(mode) ?? 1f })!;
                    object partConfig = config.RetrievalDepth is null ? new { ks = config.K } : new { ks };
                    _parts.Add(await PartAsync(template, partConfig, hash, p => new RetrievalTask(retriever, relevanceKey).RunAsync(queries, options, ks, p, ct)));
                }
            }
        }
    }

    /// <summary>Writes results.json, report.md and the plots.</summary>
    private RunResults WriteResults(DateTimeOffset started)
    {
        var results = new RunResults
        {
            Config = JsonSerializer.SerializeToNode(config, EvalConfig.Json)!.AsObject(),
            Models = new Dictionary<string, string>(_models.Ids),
            Datasets = [.. _datasets.Values],
            Started = started,
            Finished = DateTimeOffset.UtcNow,
            WallSeconds = Stopwatch.GetElapsedTime(_clock).TotalSeconds,
            PartsComputed = _computed,
            PartsReused = _reused,
            Parts = _parts,
        };
        results.Save(Path.Combine(config.Output, RunResults.FileName));
        ReportWriter.Write(results, config.Output);
        log.WriteLine($"wrote {Path.Combine(config.Output, "report.md")} ({_computed} parts computed, {_reused} reused)");
        return results;
    }

    /// <summary>The (mode, k, candidates) cells of the sweep, in report order.</summary>
    private IEnumerable<(string Mode, int K, int Candidates)> Cells(bool forLm)
    {
        if (config.Modes.Contains(Mode.ClosedBook)) yield return (Mode.ClosedBook, 0, 0);
        if (config.Modes.Contains(Mode.Retrieval))
            foreach (int k in config.K) yield return (Mode.Retrieval, k, 0);
        foreach (string rerank in config.Modes.Where(Mode.IsRerank).Distinct())
            foreach (int k in config.K)
                foreach (int c in config.Candidates.Where(c => c >= k).Distinct())
                    yield return (rerank, k, c);
    }

    /// <summary>
    /// The neighbour copy settings a part runs with: false alone in closed-book or for a decoder without a fitted table
    /// (the copy would change nothing), else the run's <see cref="EvalConfig.NeighbourCopy"/>.
    /// </summary>
    private IEnumerable<bool> Copies(string mode) => mode == Mode.ClosedBook || _models.Decoder.Config.NeighbourCopy is null
        ? [false]
        : config.NeighbourCopy.Distinct();

    private static RetrievalOptions? Options(string mode, int k, int c) => mode switch
    {
        Mode.ClosedBook => null,
        // candidates matter to hybrid search alone: each side's list, fused, as the service does (its default 16)
        Mode.Retrieval => new RetrievalOptions { K = k, Candidates = Math.Max(k, new RetrievalOptions().Candidates), Rerank = false },
        _ => new RetrievalOptions { K = k, Candidates = c, Rerank = true, RerankWeight = Mode.RerankWeight(mode) ?? 1f },
    };

    private static IRetriever Retriever(IVectorStore? store, EvalModelSet models, string mode) => mode == Mode.ClosedBook || store is null
        ? NullRetriever.Instance
        : new Retriever(models.Encoder, store, store, Mode.IsRerank(mode) ? models.Reranker : null);
}

/// <summary>Progress lines on the log, one per update, prefixed with the part's label; at most one every 2 seconds.</summary>
internal sealed class LineProgress(TextWriter log, string label) : IProgress<string>
{
    private long _last;

    public void Report(string value)
    {
        long now = Stopwatch.GetTimestamp();
        if (_last != 0 && Stopwatch.GetElapsedTime(_last, now).TotalSeconds < 2) return;
        _last = now;
        log.WriteLine($"[{label}] {value}");
    }

    public void Done(string value) => log.WriteLine($"[{label}] {value}");
}
