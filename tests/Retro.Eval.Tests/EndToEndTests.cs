using System.Text.Json;
using Retro.Eval.Running;

namespace Retro.Eval.Tests;

/// <summary>
/// A whole comparison on the tiny trained fixture models: two C4 records of ../shared/data (when present, else two
/// built-in texts), a handmade SQuAD v2 file and BEIR folder; then a rerun that must reuse every part.
/// </summary>
public sealed class EndToEndTests : IDisposable
{
    private static readonly string Root = FindRoot();
    private readonly string _dir = Directory.CreateTempSubdirectory("retro-eval-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task Compare_writes_results_report_and_plots_and_reuses_finished_parts()
    {
        var config = WriteInputs();
        var log = new StringWriter();
        var first = await new CompareRunner(config, log).RunAsync(CancellationToken.None);

        // closed-book + retrieval k=1,2 + rerank k=1,2 (c=4): 5 cells; LM doubles the 4 retrieval cells (excl/incl)
        first.Parts.Count(p => p.Task == "lm").ShouldBe(9);
        first.Parts.Count(p => p.Task == "qa").ShouldBe(5);
        first.Parts.Count(p => p.Task == "retrieval").ShouldBe(2); // bi-encoder, bi-encoder + rerank
        first.PartsComputed.ShouldBe(16);
        first.Models.Keys.ShouldBe(["encoder", "reranker", "decoder"], ignoreOrder: true);

        foreach (var p in first.Parts.Where(p => p.Task == "lm"))
        {
            p.Metrics["bpb"].ShouldBeInRange(0.1, 20);
            p.Counts["bytes"].ShouldBeGreaterThan(0);
            p.Overlap!.Sum(b => b.Tokens).ShouldBe(p.Counts["tokens"]);
        }
        var closed = first.Parts.Single(p => p.Task == "lm" && p.Mode == Mode.ClosedBook);
        closed.Overlap!.Single(b => b.Label == "none").Tokens.ShouldBe(closed.Counts["tokens"]);
        // with its own document retrievable, a chunk's continuation is the next chunk: leakage shows in the top bucket
        var incl = first.Parts.Single(p => p.Task == "lm" && p.Mode == Mode.Retrieval && p.K == 1 && p.ExcludeOwnDocument == false);
        var excl = first.Parts.Single(p => p.Task == "lm" && p.Mode == Mode.Retrieval && p.K == 1 && p.ExcludeOwnDocument == true);
        incl.Overlap!.Single(b => b.Label == "≤100%").Tokens.ShouldBeGreaterThan(excl.Overlap!.Single(b => b.Label == "≤100%").Tokens);

        var qa = first.Parts.Where(p => p.Task == "qa").ToList();
        qa.ShouldAllBe(p => p.Counts["questions"] == 3 && p.Counts["unanswerable"] == 1 && p.Metrics["f1"] >= 0 && p.Metrics["f1"] <= 100);
        qa.ShouldAllBe(p => p.Metrics.ContainsKey("no_ans_em") && p.Metrics.ContainsKey("has_ans_f1"));

        // BEIR queries equal to a whole document's text: a bi-encoder finds them first
        var beir = first.Parts.Single(p => p.Task == "retrieval" && p.Mode == Mode.Retrieval);
        beir.Metrics["recall@1"].ShouldBe(1);
        beir.Metrics["mrr@10"].ShouldBe(1);
        beir.Counts["no_relevant"].ShouldBe(1); // the query judged only with grade 0

        File.Exists(Path.Combine(config.Output, "results.json")).ShouldBeTrue();
        string report = File.ReadAllText(Path.Combine(config.Output, "report.md"));
        report.ShouldContain("## Language modelling");
        report.ShouldContain("## Question answering: squad");
        report.ShouldContain("## Retrieval: beir");
        foreach (var plot in new[] { "lm_bpb_modes.svg", "lm_bpb_vs_k.svg", "lm_overlap.svg", "qa_squad_modes.svg", "retrieval_beir_recall.svg", "latency_lm.svg", "latency_qa.svg", "latency_retrieval.svg" })
            System.Xml.Linq.XDocument.Load(Path.Combine(config.Output, "plots", plot)).Root!.Name.LocalName.ShouldBe("svg");

        var second = await new CompareRunner(config, new StringWriter()).RunAsync(CancellationToken.None);
        second.PartsComputed.ShouldBe(0);
        second.PartsReused.ShouldBe(16);
        JsonSerializer.Serialize(second.Parts.Select(p => p.Metrics)).ShouldBe(JsonSerializer.Serialize(first.Parts.Select(p => p.Metrics)));

        // deterministic: a fresh run without the cache gives the same metrics
        var third = await new CompareRunner(config with { Output = Path.Combine(_dir, "out2") }, new StringWriter(), useCache: false).RunAsync(CancellationToken.None);
        JsonSerializer.Serialize(third.Parts.Select(p => p.Metrics)).ShouldBe(JsonSerializer.Serialize(first.Parts.Select(p => p.Metrics)));

        var output = new StringWriter();
        (await Program.RunAsync(["diff", config.Output, Path.Combine(_dir, "out2")], output, new StringWriter(), CancellationToken.None)).ShouldBe(0);
        output.ToString().ShouldContain("| qa/squad/closed-book | f1 |");
    }

    [Fact]
    public async Task Retrieval_compares_dense_sparse_and_hybrid_with_and_without_rerank()
    {
        var config = WriteInputs() with { Lm = null, Qa = [], Modes = [Mode.Retrieval, Mode.Rerank], Search = ["dense", "sparse", "hybrid"], RetrievalDepth = 3 };
        var run = await new CompareRunner(config, new StringWriter()).RunAsync(CancellationToken.None);

        var parts = run.Parts.Where(p => p.Task == "retrieval").ToList();
        parts.Select(p => (p.Search ?? "dense", p.Mode)).ShouldBe([
            ("dense", Mode.Retrieval), ("dense", Mode.Rerank), ("sparse", Mode.Retrieval), ("sparse", Mode.Rerank), ("hybrid", Mode.Retrieval), ("hybrid", Mode.Rerank)]);
        parts.ShouldAllBe(p => p.Metrics.ContainsKey("recall@3") && p.Metrics.ContainsKey("ndcg@10") && p.K == 3);
        // BEIR queries equal to a whole document's text: BM25 finds them first too, and so does the fusion.
        foreach (var search in new[] { "sparse", "hybrid" })
        {
            var part = parts.Single(p => p.Search == search && p.Mode == Mode.Retrieval);
            part.Metrics["recall@1"].ShouldBe(1);
            part.Metrics["ndcg@10"].ShouldBe(1, 1e-9);
        }
        string report = File.ReadAllText(Path.Combine(config.Output, "report.md"));
        report.ShouldContain("| BM25 |");
        report.ShouldContain("| hybrid (bi-encoder + BM25, RRF) + rerank (c=4) |");
        report.ShouldContain("recall@3");

        // Dense parts keep their cache keys; the new searches are cached as well.
        var again = await new CompareRunner(config, new StringWriter()).RunAsync(CancellationToken.None);
        again.PartsComputed.ShouldBe(0);
    }

    [Fact]
    public async Task Rerank_with_a_weight_fuses_the_cross_encoder_with_the_first_stage()
    {
        var config = WriteInputs() with { Lm = null, Qa = [], Modes = [Mode.Retrieval, "rerank:0", "rerank:0.5"], Search = ["dense", "sparse"], RetrievalDepth = 3 };
        config.Validate();
        var run = await new CompareRunner(config, new StringWriter()).RunAsync(CancellationToken.None);

        var parts = run.Parts.Where(p => p.Task == "retrieval").ToList();
        parts.Select(p => (p.Search ?? "dense", p.Mode)).ShouldBe([
            ("dense", Mode.Retrieval), ("dense", "rerank:0"), ("dense", "rerank:0.5"), ("sparse", Mode.Retrieval), ("sparse", "rerank:0"), ("sparse", "rerank:0.5")]);
        // weight 0 keeps the first stage's order: the same ranking as without the cross-encoder
        foreach (var search in new[] { "dense", "sparse" })
        {
            var first = parts.Single(p => (p.Search ?? "dense") == search && p.Mode == Mode.Retrieval);
            var fused = parts.Single(p => (p.Search ?? "dense") == search && p.Mode == "rerank:0");
            fused.Metrics["ndcg@10"].ShouldBe(first.Metrics["ndcg@10"], 1e-12);
            fused.Metrics["recall@1"].ShouldBe(first.Metrics["recall@1"], 1e-12);
        }
        File.ReadAllText(Path.Combine(config.Output, "report.md")).ShouldContain("| BM25 + rerank (c=4, cross-encoder weight 0.5) |");
    }

    [Fact]
    public async Task A_missing_model_folder_is_a_clear_error_not_a_crash()
    {
        string path = Path.Combine(_dir, "missing-models.json");
        File.WriteAllText(path, """
            { "output": "out-missing", "models": { "encoder": "no-such-encoder", "decoder": "no-such-decoder" },
              "modes": ["retrieval"], "qa": [{ "name": "q", "format": "jsonl", "path": "q.jsonl" }] }
            """);
        var log = new StringWriter();
        (await Program.RunAsync(["compare", "--config", path], new StringWriter(), log, CancellationToken.None)).ShouldBe(1);
        log.ToString().ShouldContain("error: model folder");
        log.ToString().ShouldContain("no-such-encoder");
    }

    [Theory]
    [InlineData("rerank:1.5")]
    [InlineData("rerank:")]
    [InlineData("rerank:x")]
    [InlineData("reranked")]
    public void A_rerank_mode_needs_a_weight_in_zero_to_one(string mode)
    {
        var config = WriteInputs() with { Modes = [Mode.Retrieval, mode] };
        Should.Throw<InvalidDataException>(() => config.Validate()).Message.ShouldContain($"unknown mode '{mode}'");
    }

    [Fact]
    public void The_lm_gates_must_be_in_range()
    {
        var config = WriteInputs();
        config.Lm.ShouldNotBeNull();
        Should.NotThrow(() => (config with { Lm = config.Lm with { MinNeighbourMatch = [0, 0.125], NeighbourTail = [0, 4] } }).Validate());
        Should.Throw<InvalidDataException>(() => (config with { Lm = config.Lm with { MinNeighbourMatch = [1.5] } }).Validate())
            .Message.ShouldContain("lm.minNeighbourMatch");
        Should.Throw<InvalidDataException>(() => (config with { Lm = config.Lm with { NeighbourTail = [-1] } }).Validate())
            .Message.ShouldContain("lm.neighbourTail");
        Should.Throw<InvalidDataException>(() => (config with { Lm = config.Lm with { NeighbourTail = [] } }).Validate())
            .Message.ShouldContain("lm.neighbourTail");
        Should.NotThrow(() => (config with { NeighbourCopy = [false, true] }).Validate());
        Should.Throw<InvalidDataException>(() => (config with { NeighbourCopy = [] }).Validate()).Message.ShouldContain("neighbourCopy");
    }

    [Fact]
    public async Task Definition_sets_score_retrieval_and_answers_and_qa_data_exports_training_lines()
    {
        // a tiny dictionary: entries of both splits (held out: SHA-1 of the url ends in 0)
        string corpus = Path.Combine(_dir, "dict.jsonl");
        string[] words = ["compiler", "modem", "kernel", "daemon", "router", "parser", "linker", "lexer", "shell", "cache", "socket", "thread"];
        File.WriteAllLines(corpus, words.Select(w => JsonSerializer.Serialize(new
        {
            text = $"{w}\n\n<computing> A {w} is a program component that handles {w} work in a system. More text follows here.",
            url = $"foldoc:{w}",
        })));
        var held = words.Where(w => Data.Definitions.IsHeldOut($"foldoc:{w}")).ToList();
        var train = words.Except(held).ToList();
        held.ShouldNotBeEmpty();
        train.ShouldNotBeEmpty();

        var config = WriteInputs() with
        {
            Lm = null,
            Modes = [Mode.ClosedBook, Mode.Retrieval],
            Search = ["sparse", "hybrid:0.3"],
            K = [1],
            Qa = [new QaTaskConfig { Name = "defs", Format = "definitions", Split = "heldout", Path = corpus, MaxTokens = 4 }],
            Retrieval = [new RetrievalTaskConfig { Name = "defs-ret", Format = "definitions", Split = "heldout", Path = corpus }],
        };
        var run = await new CompareRunner(config, new StringWriter()).RunAsync(CancellationToken.None);
        var qa = run.Parts.Where(p => p.Task == "qa").ToList();
        qa.Select(p => (p.Mode, p.Search)).ShouldBe([(Mode.ClosedBook, (string?)null), (Mode.Retrieval, "sparse"), (Mode.Retrieval, "hybrid:0.3")]);
        qa.ShouldAllBe(p => p.Counts["questions"] == held.Count);
        // BM25 on the headword finds the entry itself: its title and text name it
        run.Parts.Single(p => p.Task == "retrieval" && p.Search == "sparse").Metrics["recall@1"].ShouldBe(1);

        string lines = Path.Combine(_dir, "qa.jsonl");
        var export = config with { Qa = [new QaTaskConfig { Name = "defs-train", Format = "definitions", Split = "train", Path = corpus }], Search = ["sparse"], K = [2] };
        int n = await new QaDataExporter(export, new StringWriter(), candidates: 3).RunAsync(lines, CancellationToken.None);
        n.ShouldBe(train.Count);
        var tokenizer = Retro.Tokenizers.TokenizerLoader.FromFolder(config.Models.Decoder);
        foreach (string line in File.ReadLines(lines))
        {
            using var doc = JsonDocument.Parse(line);
            var e = doc.RootElement;
            string gold = e.GetProperty("gold").GetString()!;
            Data.Definitions.IsHeldOut(gold).ShouldBeFalse();
            tokenizer.Decode(e.GetProperty("question_tokens").EnumerateArray().Select(t => t.GetInt32()).ToArray()).ShouldBe(e.GetProperty("question").GetString());
            tokenizer.Decode(e.GetProperty("answer_tokens").EnumerateArray().Select(t => t.GetInt32()).ToArray()).ShouldBe(" " + e.GetProperty("answer").GetString());
            e.GetProperty("neighbours").GetArrayLength().ShouldBeInRange(1, 2); // BM25 returns only documents with a query term
            e.GetProperty("neighbours").EnumerateArray().ShouldAllBe(nb => nb.GetArrayLength() > 0 && nb.GetArrayLength() <= 128);
            e.GetProperty("hit").GetBoolean().ShouldBe(e.GetProperty("neighbour_docs").EnumerateArray().Any(d => d.GetString() == gold));
            e.GetProperty("hit").GetBoolean().ShouldBeTrue(); // BM25 finds the entry named in the question
            var pool = e.GetProperty("candidates");
            pool.GetArrayLength().ShouldBe(e.GetProperty("neighbours").GetArrayLength() == 2 ? 3 : 1); // as many as BM25 finds, at most 3
            pool[0].GetProperty("doc").GetString().ShouldBe(gold);
            tokenizer.Decode(pool[0].GetProperty("tokens").EnumerateArray().Select(t => t.GetInt32()).ToArray()).ShouldStartWith(gold["foldoc:".Length..] + "\n");
            pool[0].GetProperty("title").GetString().ShouldBe(gold["foldoc:".Length..]); // the learned ranker's fit reads the title
        }
    }

    [Fact]
    public async Task Bad_command_lines_exit_with_usage_errors()
    {
        var log = new StringWriter();
        (await Program.RunAsync(["compare"], new StringWriter(), log, CancellationToken.None)).ShouldBe(2);
        log.ToString().ShouldContain("--config");
        (await Program.RunAsync(["frobnicate"], new StringWriter(), new StringWriter(), CancellationToken.None)).ShouldBe(2);
        string path = Path.Combine(_dir, "c.json");
        File.WriteAllText(path, """{ "models": { "encoder": "e", "decoder": "d" }, "modes": ["rerank"], "qa": [ { "path": "x" } ] }""");
        log = new StringWriter();
        (await Program.RunAsync(["compare", "--config", path], new StringWriter(), log, CancellationToken.None)).ShouldBe(1);
        log.ToString().ShouldContain("needs models.reranker");
    }

    private EvalConfig WriteInputs()
    {
        string c4 = Path.GetFullPath(Path.Combine(Root, "..", "shared", "data", "c4-en-sample", "c4_sample.jsonl"));
        string docs = Path.Combine(_dir, "docs.jsonl");
        if (File.Exists(c4)) File.WriteAllLines(docs, File.ReadLines(c4).Take(2).Select(l => TrimDoc(l)));
        else File.WriteAllLines(docs, [
            JsonSerializer.Serialize(new { text = string.Join(' ', Enumerable.Repeat("The river flows past the old mill and the bridge into the town.", 30)), url = "a" }),
            JsonSerializer.Serialize(new { text = string.Join(' ', Enumerable.Repeat("Bakers rise early to knead dough for bread sold at dawn.", 30)), url = "b" })]);

        string squad = Path.Combine(_dir, "squad.json");
        File.WriteAllText(squad, """
        {"version": "v2.0", "data": [{"title": "Normans", "paragraphs": [
          {"context": "The Normans were the people who in the 10th and 11th centuries gave their name to Normandy, a region in France.",
           "qas": [{"id": "q1", "question": "In what country is Normandy located?", "answers": [{"text": "France", "answer_start": 0}], "is_impossible": false},
                   {"id": "q2", "question": "When were the Normans in Normandy?", "answers": [{"text": "10th and 11th centuries", "answer_start": 0}], "is_impossible": false}]},
          {"context": "Rollo was a Viking leader who agreed to defend the lower Seine.",
           "qas": [{"id": "q3", "question": "Who gave Rollo a kingdom in Denmark?", "answers": [], "plausible_answers": [{"text": "Seine", "answer_start": 0}], "is_impossible": true}]}]}]}
        """);

        string beir = Path.Combine(_dir, "beir");
        Directory.CreateDirectory(Path.Combine(beir, "qrels"));
        string[] texts = ["Hydrogen is the lightest chemical element.", "The Amazon river carries more water than any other river.",
            "Mount Everest is the highest mountain above sea level.", "Bees communicate the location of flowers by dancing."];
        File.WriteAllLines(Path.Combine(beir, "corpus.jsonl"), texts.Select((t, i) => JsonSerializer.Serialize(new { _id = $"d{i}", title = "", text = t })));
        File.WriteAllLines(Path.Combine(beir, "queries.jsonl"), texts.Select((t, i) => JsonSerializer.Serialize(new { _id = $"q{i}", text = t })).Append("""{"_id": "q9", "text": "unjudged"}"""));
        File.WriteAllLines(Path.Combine(beir, "qrels", "test.tsv"), ["query-id\tcorpus-id\tscore", "q0\td0\t1", "q1\td1\t1", "q2\td2\t2", "q3\td3\t1", "q9\td0\t0"]);

        string fixtures = Path.Combine(Root, "tests", "fixtures", "trained-smoke");
        return new EvalConfig
        {
            Output = Path.Combine(_dir, "out"),
            Threads = 1,
            Models = new EvalModels { Encoder = Path.Combine(fixtures, "encoder"), Reranker = Path.Combine(fixtures, "reranker"), Decoder = Path.Combine(fixtures, "retro") },
            K = [1, 2],
            Candidates = [4],
            Lm = new LmTaskConfig { Documents = docs, Limit = 2 },
            Qa = [new QaTaskConfig { Name = "squad", Format = "squad", Path = squad, MaxTokens = 4 }],
            Retrieval = [new RetrievalTaskConfig { Name = "beir", Format = "beir", Path = beir }],
        };
    }

    // keep the test in seconds: at most 1,000 characters of each record
    private static string TrimDoc(string line)
    {
        using var json = JsonDocument.Parse(line);
        string text = json.RootElement.GetProperty("text").GetString()!;
        string url = json.RootElement.TryGetProperty("url", out var u) ? u.GetString() ?? "" : "";
        return JsonSerializer.Serialize(new { text = text.Length > 1000 ? text[..1000] : text, url });
    }

    private static string FindRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "Retro.sln"))) return d.FullName;
        throw new InvalidOperationException("Retro.sln not found above the test binaries");
    }
}
