using System.Text;
using Retro.Core;
using Retro.Core.Options;
using Retro.Eval.Data;
using Retro.Eval.Metrics;
using Retro.Eval.Running;
using Retro.Engine.Retro;
using Retro.Eval.Tasks;

namespace Retro.Eval.Tests;

/// <summary>BPB of <see cref="LmTask"/> against an independent token-by-token computation with the decoder's step API.</summary>
public sealed class LmTaskTests : IDisposable
{
    private readonly EvalModelSet _models;

    public LmTaskTests()
    {
        string root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Retro.sln"))) root = Path.GetDirectoryName(root)!;
        // random weights: neighbours change the logits a lot, so a misaligned neighbour would show
        string f = Path.Combine(root, "tests", "fixtures");
        _models = new EvalModelSet(new EvalModels { Encoder = Path.Combine(f, "bert-tiny"), Decoder = Path.Combine(f, "retro-tiny") }, threads: 1, maxNeighbours: 2);
    }

    public void Dispose() => _models.Dispose();

    /// <summary>Returns one neighbour per query, made from the query's own tokens reversed, and records the queries.</summary>
    private sealed class EchoRetriever(Retro.Core.ITokenizer tokenizer, bool reverse = true) : IRetriever
    {
        public List<string> Queries { get; } = [];

        public ValueTask<RetrievalResult> RetrieveAsync(string query, RetrievalOptions options, CancellationToken cancellationToken = default)
        {
            Queries.Add(query);
            int[] tokens = reverse ? [.. tokenizer.Encode(query).Reverse()] : tokenizer.Encode(query);
            var chunk = new Chunk(ChunkId.From("echo", Queries.Count), "echo", "", 0, query, tokens, "", [], new Dictionary<string, string>());
            return ValueTask.FromResult(new RetrievalResult([new Neighbour(chunk, 1)], new RetrievalTimings()));
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Bpb_matches_a_step_by_step_reference(bool withNeighbours)
    {
        var tokenizer = _models.Tokenizer;
        int m = _models.Decoder.Config.ChunkSize;
        var text = new StringBuilder();
        string[] sentences = ["The river flows past the old mill, ", "and the bakers rise early — café au lait at dawn. ", "Numbers like 1776 and 2024 appear too. "];
        for (int i = 0; tokenizer.Encode(text.ToString()).Length < 3 * m + 10; i++) text.Append(sentences[i % sentences.Length]);
        string doc = text.ToString();
        int[] ids = tokenizer.Encode(doc);
        ids.Length.ShouldBeLessThan(_models.Decoder.Config.MaxSeqLen); // one window

        var retriever = new EchoRetriever(tokenizer);
        var options = withNeighbours ? new RetrievalOptions { K = 1, Candidates = 1, Rerank = false } : null;
        var part = await new LmTask(_models, retriever).RunAsync([new EvalDocument("d", doc)], options, excludeOwn: false, context: 0,
            new Progress<string>(), CancellationToken.None);

        // reference: one token at a time; chunk u's neighbours arrive with the token that completes it
        var offsets = tokenizer.EncodeWithOffsets(doc);
        using var session = _models.Decoder.CreateSession(maxNeighbours: 1);
        var reference = new BitsPerByte();
        var echo = new EchoRetriever(tokenizer);
        for (int p = 0; p + 1 < ids.Length; p++)
        {
            IReadOnlyList<int[]>? nb = null;
            if (withNeighbours && (p + 1) % m == 0)
            {
                int u = (p + 1) / m - 1;
                string query = doc[offsets[u * m].Offsets.Start.GetOffset(doc.Length)..offsets[u * m + m - 1].Offsets.End.GetOffset(doc.Length)];
                nb = [(await echo.RetrieveAsync(query, options!)).Neighbours[0].Chunk.Tokens];
            }
            var logits = session.Step(ids[p], nb);
            reference.Add(BitsPerByte.NegLog2Prob(logits, ids[p + 1]), 0);
        }
        int firstTokenBytes = Encoding.UTF8.GetByteCount(doc.AsSpan(0, offsets[0].Offsets.End.GetOffset(doc.Length)));
        long bytes = Encoding.UTF8.GetByteCount(doc) - firstTokenBytes;

        part.Counts["tokens"].ShouldBe(ids.Length - 1);
        part.Counts["bytes"].ShouldBe(bytes);
        part.Metrics["bpb"].ShouldBe(reference.Bits / bytes, 1e-4 * reference.Bits / bytes);
        retriever.Queries.ShouldBe(echo.Queries); // same chunk texts, same order
        if (withNeighbours)
        {
            var closed = await new LmTask(_models, retriever).RunAsync([new EvalDocument("d", doc)], null, false, 0, new Progress<string>(), CancellationToken.None);
            Math.Abs(closed.Metrics["bpb"] - part.Metrics["bpb"]).ShouldBeGreaterThan(1e-3); // the neighbours mattered
        }
        retriever.Queries.Count.ShouldBe(withNeighbours ? (ids.Length - 1) / m : 0);
    }

    [Fact]
    public async Task The_neighbour_gate_reads_only_neighbours_that_repeat_their_chunk_and_buckets_by_all_retrieved()
    {
        var tokenizer = _models.Tokenizer;
        int m = _models.Decoder.Config.ChunkSize;
        var text = new StringBuilder();
        for (int i = 0; tokenizer.Encode(text.ToString()).Length < 3 * m + 10; i++) text.Append($"Line {i}: the river flows past mill number {i * 7}. ");
        var doc = new EvalDocument("d", text.ToString());
        var options = new RetrievalOptions { K = 1, Candidates = 1, Rerank = false };
        async Task<PartResult> Run(bool reverse, double gate, int tail = 0) => await new LmTask(_models, new EchoRetriever(tokenizer, reverse))
            .RunAsync([doc], gate > 0 || tail > 0 ? options with { MinNeighbourMatch = gate, NeighbourTail = tail } : options, false, 0, new Progress<string>(), CancellationToken.None);
        var closed = await new LmTask(_models, new EchoRetriever(tokenizer)).RunAsync([doc], null, false, 0, new Progress<string>(), CancellationToken.None);

        // the chunk reversed shares short runs only: the gate drops it, and the decoder reads nothing (closed-book)
        var reversed = await Run(reverse: true, gate: 0);
        var reversedGated = await Run(reverse: true, gate: 0.5);
        Math.Abs(reversed.Metrics["bpb"] - closed.Metrics["bpb"]).ShouldBeGreaterThan(1e-3);
        reversedGated.Metrics["bpb"].ShouldBe(closed.Metrics["bpb"], 1e-9);
        reversedGated.Overlap!.Select(b => (b.Label, b.Tokens)).ShouldBe(reversed.Overlap!.Select(b => (b.Label, b.Tokens)));
        // the chunk itself matches wholly: read with the gate as without
        var echoed = await Run(reverse: false, gate: 0);
        (await Run(reverse: false, gate: 1)).Metrics["bpb"].ShouldBe(echoed.Metrics["bpb"], 1e-9);
        Math.Abs(echoed.Metrics["bpb"] - closed.Metrics["bpb"]).ShouldBeGreaterThan(1e-3);
        // ... but the echo ends where the chunk ends, with nothing after it to continue the text: a tail test of the whole
        // chunk drops it (a shorter tail may recur inside this repetitive text, followed by a token)
        var tailed = await Run(reverse: false, gate: 1, tail: m);
        tailed.Metrics["bpb"].ShouldBe(closed.Metrics["bpb"], 1e-9);
        tailed.Overlap!.Select(b => (b.Label, b.Tokens)).ShouldBe(echoed.Overlap!.Select(b => (b.Label, b.Tokens)));
    }

    [Fact]
    public async Task The_neighbour_copy_mixes_into_each_tokens_probability_by_the_reference_rule()
    {
        string root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Retro.sln"))) root = Path.GetDirectoryName(root)!;
        string fixtures = Path.Combine(root, "tests", "fixtures");
        string dir = Path.Combine(Path.GetTempPath(), "retro-copy-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            foreach (var file in Directory.GetFiles(Path.Combine(fixtures, "retro-tiny"))) File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
            var config = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(Path.Combine(dir, "config.json")))!.AsObject();
            config["neighbour_copy"] = System.Text.Json.Nodes.JsonNode.Parse(
                "{\"max_match\": 16, \"match_edges\": [1, 2, 4, 8], \"lambda_read\": [0.05, 0.2, 0.5, 0.8], \"lambda_unread\": [0.01, 0.1, 0.3, 0.6]}");
            File.WriteAllText(Path.Combine(dir, "config.json"), config.ToJsonString());
            using var models = new EvalModelSet(new EvalModels { Encoder = Path.Combine(fixtures, "bert-tiny"), Decoder = dir }, threads: 1, maxNeighbours: 2);
            var copy = models.Decoder.Config.NeighbourCopy!;
            var tokenizer = models.Tokenizer;
            int m = models.Decoder.Config.ChunkSize;
            var text = new StringBuilder();
            for (int i = 0; tokenizer.Encode(text.ToString()).Length < 3 * m + 10; i++) text.Append($"Line {i % 3}: the river flows past mill number {i % 3 * 7}. ");
            string doc = text.ToString();
            int[] ids = tokenizer.Encode(doc);
            var options = new RetrievalOptions { K = 1, Candidates = 1, Rerank = false };
            var mixed = await new LmTask(models, new EchoRetriever(tokenizer, reverse: false)).RunAsync([new EvalDocument("d", doc)], options, false, 0, new Progress<string>(), CancellationToken.None);
            var plain = await new LmTask(models, new EchoRetriever(tokenizer, reverse: false)).RunAsync([new EvalDocument("d", doc)], options with { NeighbourCopy = false }, false, 0, new Progress<string>(), CancellationToken.None);

            // reference: the decoder step by step, each token's bits mixed with the proposal from the chunk before's neighbour
            var offsets = tokenizer.EncodeWithOffsets(doc);
            using var session = models.Decoder.CreateSession(maxNeighbours: 1);
            var echo = new EchoRetriever(tokenizer, reverse: false);
            var neighbours = new List<int[]>();
            double bits = 0, plainBits = 0;
            int proposals = 0;
            for (int p = 0; p + 1 < ids.Length; p++)
            {
                IReadOnlyList<int[]>? nb = null;
                if ((p + 1) % m == 0)
                {
                    int u = (p + 1) / m - 1;
                    string query = doc[offsets[u * m].Offsets.Start.GetOffset(doc.Length)..offsets[u * m + m - 1].Offsets.End.GetOffset(doc.Length)];
                    neighbours.Add((await echo.RetrieveAsync(query, options)).Neighbours[0].Chunk.Tokens);
                    nb = [neighbours[^1]];
                }
                var logits = session.Step(ids[p], nb);
                double b = BitsPerByte.NegLog2Prob(logits, ids[p + 1]);
                plainBits += b;
                int c = (p + 1) / m;
                if (c >= 1 && c - 1 < (ids.Length - 1) / m)
                {
                    var proposal = copy.Propose(ids.AsSpan(0, p + 1), [neighbours[c - 1]], [true]);
                    if (proposal.Any) proposals++;
                    b = NeighbourCopy.MixedBits(b, ids[p + 1], proposal);
                }
                bits += b;
            }
            proposals.ShouldBeGreaterThan(m); // the repeated lines run on in the chunk before
            long bytes = mixed.Counts["bytes"];
            plain.Metrics["bpb"].ShouldBe(plainBits / bytes, 1e-4 * plainBits / bytes);
            mixed.Metrics["bpb"].ShouldBe(bits / bytes, 1e-4 * bits / bytes);
            mixed.Metrics["bpb"].ShouldBeLessThan(plain.Metrics["bpb"] - 1e-3); // random weights: copying the repeats helps
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_parts_label_names_its_gate_and_its_tail_test()
    {
        PartResult.GateLabel(0.125).ShouldBe(" gate≥0.125");
        PartResult.GateLabel(0.125, 4).ShouldBe(" gate≥0.125 tail 4");
        PartResult.GateLabel(null, 4).ShouldBe(" tail 4");
        PartResult.GateLabel(0, 0).ShouldBe("");
        PartResult.GateLabel(0.125, 4, true).ShouldBe(" gate≥0.125 tail 4 copy");
        PartResult.GateLabel(null, null, null).ShouldBe("");
        new PartResult { Task = "lm", Dataset = "lm", Mode = Mode.Retrieval, K = 2, MinNeighbourMatch = 0.125, NeighbourTail = 4 }.Label.ShouldEndWith("gate≥0.125 tail 4");
    }
}
