using System.Diagnostics;
using System.IO.Compression;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Retro.Api.Apis;
using Retro.Api.Extensions;

namespace Retro.Benchmarks.Api;

/// <summary>
/// <c>serve</c>: the question-answering service in-process on loopback (the real pipeline: HTTP, validation, limits,
/// retrieval with rerank over the embedded store, RETRO decoding with batched steps), with the shipped models or,
/// when models/ lacks them, the fixture models. 1 and 8 concurrent clients, each asking questions back to back for a
/// bounded time, 32 new tokens per answer: answers/s, latency percentiles, errors (must be 0), managed-memory growth.
/// The peer is the same service at 1 client; the ratio is the concurrency gain.
/// </summary>
public sealed class ServeSuite : ISuite
{
    private static readonly string[] Questions =
    [
        "Where is the Eiffel Tower?",
        "Who wrote the first English dictionary?",
        "What is the highest mountain on Earth?",
        "How do bees make honey?",
        "When did the Roman Empire fall?",
        "What does a compiler do?",
        "Why is the sky blue?",
        "Which river flows through Cairo?",
        "How does a steam engine work?",
        "What is the capital of Japan?",
    ];

    public string Name => "serve";

    public string Description => "QA service in-process on loopback: answers/s at 8 vs 1 concurrent clients, 32 tokens each";

    public int Run(string[] args)
    {
        double seconds = Arg(args, "--seconds", 20);
        int rounds = Math.Max(1, (int)Arg(args, "--rounds", 4));
        int tokens = (int)Arg(args, "--tokens", 32);
        int docs = (int)Arg(args, "--docs", 400);
        int batch = (int)Arg(args, "--batch", 8);
        int only = (int)Arg(args, "--only", 0); // profiling: run only this client count (1 or 8); no ratio line
        var settings = Settings(args); // --set Key=Value (repeatable): configuration over the product's defaults
        int rc = RunAsync(seconds, rounds, tokens, docs, batch, only, onnx: false, settings).GetAwaiter().GetResult();
        if (args.Contains("--no-ort") || only != 0) return rc;
        // The same service on ONNX Runtime (Retro:Engine:Backend = Onnx, CPU EP, same threads), measured after it
        int ortRc = RunAsync(seconds, rounds, tokens, docs, batch, only, onnx: true, settings).GetAwaiter().GetResult();
        Console.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"serve-ort: ours={Rates[false]:F2} ort={Rates[true]:F2} ratio={Rates[false] / Rates[true]:F2} (answers/s at 8 clients; managed engine vs ONNX Runtime CPU EP, one after the other)"));
        return rc != 0 ? rc : ortRc;
    }

    private static readonly Dictionary<bool, double> Rates = [];

    /// <summary>The <c>--set Key=Value</c> pairs of the command line (e.g. <c>--set Retro:Retrieval:Rerank=false</c>).</summary>
    internal static Dictionary<string, string?> Settings(string[] args)
    {
        var settings = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] != "--set") continue;
            string? pair = i + 1 < args.Length ? args[i + 1] : null;
            int eq = pair?.IndexOf('=') ?? -1;
            if (pair is null || eq <= 0) throw new ArgumentException($"--set takes Key=Value (e.g. Retro:Retrieval:Rerank=false), got '{pair}'");
            settings[pair[..eq]] = pair[(eq + 1)..];
        }
        return settings;
    }

    private static async Task<int> RunAsync(double seconds, int rounds, int tokens, int docs, int batch, int only, bool onnx, IReadOnlyDictionary<string, string?> settings)
    {
        string root = RepoRoot();
        string work = Directory.CreateTempSubdirectory("retro-serve-bench-").FullName;
        try
        {
            bool shipped = new[] { "encoder", "reranker", "retro" }.All(m => File.Exists(Path.Combine(root, "models", m, "model.safetensors")));
            string Model(string shippedName, string fixture)
            {
                string folder = shipped ? Path.Combine(root, "models", shippedName) : Path.Combine(root, "tests", "fixtures", fixture);
                if (!onnx) return folder;
                string copy = Path.Combine(work, "models", shippedName); // exported beside a copy: the repository's folders stay as they are
                Directory.CreateDirectory(copy);
                foreach (var file in Directory.GetFiles(folder)) File.Copy(file, Path.Combine(copy, Path.GetFileName(file)));
                Engine.OnnxPeer.Export(copy);
                return copy;
            }
            Console.WriteLine($"serve: engine = {(onnx ? "ONNX Runtime (Retro:Engine:Backend = Onnx, CPU EP)" : "managed (Retro:Engine:Backend = Managed)")}");
            string corpus = Path.Combine(work, "corpus.jsonl");
            int written = WriteCorpus(Path.Combine(root, "samples", "corpus", "sample.jsonl.gz"), corpus, docs, avoidFixtureGap: !shipped);
            // the service's default reranker, the learned ranker, where it is shipped (no ONNX export: it has no weights);
            // --set Retro:Models:Reranker=models/reranker serves the cross-encoder instead
            string ranker = Path.Combine(root, "models", "ranker");
            string reranker = shipped && Core.Ranking.LexicalRanker.IsRankerFolder(ranker) ? ranker : Model("reranker", "cross-tiny");
            Console.WriteLine($"serve: models = {(shipped ? $"shipped (models/encoder, {Path.GetRelativePath(root, reranker)}, models/retro)" : "FIXTURES (tests/fixtures bert-tiny, cross-tiny, retro-tiny; models/ has no shipped models yet)")}");
            Console.WriteLine($"serve: corpus = first {written} documents of samples/corpus/sample.jsonl.gz{(shipped ? "" : " without 'question'/'answer' (bert-tiny's vocabulary gap)")}, embedded store, ingested at start");

            var builder = WebApplication.CreateBuilder(new WebApplicationOptions { ContentRootPath = root, EnvironmentName = "Production" });
            builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["urls"] = "http://127.0.0.1:0",
                ["Retro:Models:Encoder"] = Model("encoder", "bert-tiny"),
                ["Retro:Models:Reranker"] = reranker,
                ["Retro:Models:Decoder"] = Model("retro", "retro-tiny"),
                ["Retro:VectorStore:Path"] = Path.Combine(work, "store"),
                ["Retro:Service:SampleCorpus"] = corpus,
                ["Retro:Service:MaxConcurrentRequests"] = "16",
                ["Retro:Service:QueueLimit"] = "64",
                ["Retro:Service:DecoderBatchSize"] = batch.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["Retro:Service:RequestTimeoutSeconds"] = "600",
                ["Retro:Engine:Backend"] = onnx ? "Onnx" : "Managed",
            });
            if (settings.Count > 0)
            {
                builder.Configuration.AddInMemoryCollection(settings);
                Console.WriteLine($"serve: settings over the defaults: {string.Join(", ", settings.Select(kv => $"{kv.Key}={kv.Value}"))}");
            }
            builder.AddRetroDefaults();
            builder.AddRetroServices();
            builder.Services.AddProblemDetails();
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            await using var app = builder.Build();
            app.MapRetroDefaults();
            app.MapQuestionApi();
            var started = Stopwatch.StartNew();
            await app.StartAsync();
            string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            var retrieval = app.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Retro.Core.Options.RetrievalOptions>>().Value;
            Console.WriteLine($"serve: decoder batch {batch}, {tokens} new tokens per answer, greedy, retrieval {retrieval.Mode}, k {retrieval.K} of {retrieval.Candidates} candidates, " +
                              (retrieval.Rerank ? "reranked" : "not reranked") + " (Retro:Retrieval)");
            Console.WriteLine($"serve: started (models loaded, corpus ingested) in {started.Elapsed.TotalSeconds:F1} s at {address}");

            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = new Uri(address), Timeout = TimeSpan.FromMinutes(10) };
            for (int i = 0; i < 3; i++) await AskAsync(http, Questions[i], tokens); // warm-up (JIT, caches)
            // and a short load at both concurrencies, unmeasured: tiered compilation reaches the optimized code of the
            // single and the batched paths before any window counts (it took ~10% of the CPU in the first windows)
            await LoadAsync(http, 8, 2, tokens, new Result());
            await LoadAsync(http, 1, 1, tokens, new Result());
            using (var one = await http.PostAsJsonAsync("/v1/answer", new { question = Questions[0], maxTokens = tokens, temperature = 0 }))
                Console.WriteLine($"serve: one answer's timings (ms): {(await one.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("timings")}");

            // 1 and 8 clients alternate in `rounds` windows each (seconds / rounds long), so that a host whose speed
            // drifts over the run (a shared machine) slows both sides of the ratio alike; figures sum the windows.
            var results = new Dictionary<int, Result> { [1] = new(), [8] = new() };
            var batchCounts = new Dictionary<int, (long Steps, long Batches)> { [1] = (0, 0), [8] = (0, 0) };
            var batchWork = new Dictionary<int, (long Rows, long Ticks)> { [1] = (0, 0), [8] = (0, 0) };
            var decoderService = app.Services.GetRequiredService<Retro.Engine.Generation.IRetroDecoder>();
            var counts = decoderService as Retro.Engine.Generation.RetroDecoderAdapter;
            var ortCounts = decoderService as Retro.Engine.Onnx.OnnxRetroDecoder;
            for (int round = 0; round < rounds; round++)
            {
                foreach (int clients in new[] { 1, 8 })
                {
                    if (only != 0 && clients != only) continue;
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    long before = GC.GetTotalMemory(forceFullCollection: true);
                    var (steps0, batches0) = counts?.BatchCounts ?? ortCounts?.BatchCounts ?? (0, 0);
                    var (rows0, ticks0) = counts?.BatchWork ?? ortCounts?.BatchWork ?? (0, 0);
                    await LoadAsync(http, clients, seconds / rounds, tokens, results[clients]);
                    var (steps1, batches1) = counts?.BatchCounts ?? ortCounts?.BatchCounts ?? (0, 0);
                    var (rows1, ticks1) = counts?.BatchWork ?? ortCounts?.BatchWork ?? (0, 0);
                    var w = batchWork[clients];
                    batchWork[clients] = (w.Rows + rows1 - rows0, w.Ticks + ticks1 - ticks0);
                    var c = batchCounts[clients];
                    batchCounts[clients] = (c.Steps + steps1 - steps0, c.Batches + batches1 - batches0);
                    GC.Collect();
                    GC.WaitForPendingFinalizers();
                    results[clients].MemoryGrowthMiB += (GC.GetTotalMemory(forceFullCollection: true) - before) / (1024.0 * 1024.0);
                }
            }
            foreach (int clients in new[] { 1, 8 })
            {
                if (only != 0 && clients != only) continue;
                var result = results[clients];
                var (steps, batches) = batchCounts[clients];
                var (rows, ticks) = batchWork[clients];
                if (batches > 0)
                    Console.WriteLine($"serve: {clients} client(s): {(double)steps / batches:F2} sessions and {(double)rows / batches:F1} tokens fed (leading pads of a question included) per batched decoder call on average, " +
                                      $"{ticks * 1000.0 / Stopwatch.Frequency / batches:F2} ms per call, decoder busy {ticks / (double)Stopwatch.Frequency / result.Seconds:P0} of the time");
                Console.WriteLine($"serve: {clients} client(s), {rounds} windows, {result.Seconds:F0} s: {result.Answers} answers, {result.Rate:F2} answers/s, {result.TokensPerSecond:F1} tokens/s, " +
                                  $"latency p50 {result.Percentile(50):F0} ms p95 {result.Percentile(95):F0} ms p99 {result.Percentile(99):F0} ms, " +
                                  $"errors {result.Errors}, managed memory growth {result.MemoryGrowthMiB:+0.0;-0.0} MiB, working set {Environment.WorkingSet / (1024 * 1024)} MiB");
                if (result.Answers > 0)
                    Console.WriteLine($"serve: {clients} client(s), median server timings (ms): " +
                                      string.Join(", ", TimingNames.Select((name, t) => $"{name[..^2]} {Median(result.Timings[t]):F2}")));
            }
            if (counts?.EncodedNeighbours is ({ } encoded, { } encodedRows) && encoded > 0)
                Console.WriteLine($"serve: neighbours encoded {encoded}, {encodedRows / (double)encoded:F1} token rows each on average " +
                                  $"(of at most {app.Services.GetRequiredService<Retro.Engine.Generation.IRetroDecoder>().NeighbourLength}: trailing padding is not encoded)");
            if (only == 0 && !onnx) await MeasureOverlapAsync(app.Services, corpus);
            await app.StopAsync();

            if (only != 0) return results[only].Errors == 0 ? 0 : 1;
            double ours = results[8].Rate, peer = results[1].Rate;
            Rates[onnx] = ours;
            int errors = results.Values.Sum(r => r.Errors);
            if (errors > 0) Console.WriteLine($"serve: {errors} errors (must be 0): {string.Join("; ", results.Values.SelectMany(r => r.ErrorSamples).Distinct().Take(3))}");
            Console.WriteLine($"serve{(onnx ? " (ONNX Runtime)" : "")}: ours={ours:F2} peer={peer:F2} ratio={ours / peer:F2}");
            return errors == 0 ? 0 : 1;
        }
        finally
        {
            try { Directory.Delete(work, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Prompt of several chunks, 1 new token: retrieving the prompt's chunks concurrently with the prefill vs one by one.</summary>
    private static async Task MeasureOverlapAsync(IServiceProvider services, string corpus)
    {
        var decoder = services.GetRequiredService<Retro.Engine.Generation.IRetroDecoder>();
        var retriever = services.GetRequiredService<Retro.Core.IRetriever>();
        string text = string.Join(" ", File.ReadLines(corpus).Take(20).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("text").GetString()));
        int m = decoder.ChunkSize, chunks = Math.Min(6, (decoder.MaxSequenceLength - 2) / m - 1);
        int[] ids = decoder.Tokenizer.Encode(text);
        string prompt = decoder.Tokenizer.Decode(ids.AsSpan(0, Math.Min(ids.Length, chunks * m + m / 2)));
        var request = new Retro.Core.GenerationRequest(prompt, new Retro.Core.Options.GenerationOptions { MaxTokens = 1 }, new Retro.Core.Options.RetrievalOptions());
        var medians = new List<double>();
        foreach (bool overlap in new[] { true, false })
        {
            var generator = new Retro.Engine.Generation.RetroGenerator(decoder) { OverlapPromptRetrieval = overlap };
            var times = new List<double>();
            for (int rep = 0; rep < 12; rep++)
            {
                long start = Stopwatch.GetTimestamp();
                await foreach (var _ in generator.GenerateAsync(request, retriever)) { }
                if (rep >= 2) times.Add(Stopwatch.GetElapsedTime(start).TotalMilliseconds);
            }
            times.Sort();
            medians.Add(times[times.Count / 2]);
        }
        Console.WriteLine($"serve: prompt of {decoder.Tokenizer.Encode(prompt).Length} tokens ({chunks} complete chunks), 1 new token: " +
                          $"retrieval overlapped with prefill {medians[0]:F1} ms vs one chunk at a time {medians[1]:F1} ms (median of 10; saves {medians[1] - medians[0]:F1} ms)");
    }

    /// <summary>Runs <paramref name="clients"/> clients for <paramref name="seconds"/> and adds what they did to <paramref name="result"/>.</summary>
    private static async Task LoadAsync(HttpClient http, int clients, double seconds, int tokens, Result result)
    {
        var deadline = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, clients).Select(c => Task.Run(async () =>
        {
            for (int i = c; deadline.Elapsed.TotalSeconds < seconds; i += clients)
            {
                long start = Stopwatch.GetTimestamp();
                var (ok, generated, error, timings) = await AskAsync(http, Questions[i % Questions.Length], tokens);
                double ms = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                lock (result)
                {
                    if (ok)
                    {
                        result.Latencies.Add(ms);
                        result.Tokens += generated;
                        for (int t = 0; t < TimingNames.Length; t++) result.Timings[t].Add(timings![t]);
                    }
                    else { result.Errors++; result.ErrorSamples.Add(error!); }
                }
            }
        })).ToArray();
        await Task.WhenAll(workers);
        result.Seconds += deadline.Elapsed.TotalSeconds;
    }

    /// <summary>The server-side timings (response <c>timings</c>) whose medians are printed per client count.</summary>
    private static readonly string[] TimingNames = ["embedMs", "searchMs", "rerankMs", "encodeNeighboursMs", "prefillMs", "decodeMs", "totalMs"];

    private static async Task<(bool Ok, int Tokens, string? Error, double[]? Timings)> AskAsync(HttpClient http, string question, int tokens)
    {
        try
        {
            using var response = await http.PostAsJsonAsync("/v1/answer", new { question, maxTokens = tokens, temperature = 0 });
            if (!response.IsSuccessStatusCode) return (false, 0, $"{(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}", null);
            var body = await response.Content.ReadFromJsonAsync<JsonElement>();
            var t = body.GetProperty("timings");
            return (true, body.GetProperty("usage").GetProperty("completionTokens").GetInt32(), null,
                TimingNames.Select(name => t.GetProperty(name).GetDouble()).ToArray());
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return (false, 0, e.Message, null);
        }
    }

    private static int WriteCorpus(string sample, string target, int docs, bool avoidFixtureGap)
    {
        using var input = new StreamReader(new GZipStream(File.OpenRead(sample), CompressionMode.Decompress));
        using var output = new StreamWriter(target);
        int written = 0;
        while (written < docs && input.ReadLine() is { } line)
        {
            if (avoidFixtureGap && (line.Contains("question", StringComparison.OrdinalIgnoreCase) || line.Contains("answer", StringComparison.OrdinalIgnoreCase))) continue;
            output.WriteLine(line);
            written++;
        }
        return written;
    }

    private static double Median(List<double> values)
    {
        var sorted = values.Order().ToArray();
        return sorted.Length == 0 ? double.NaN : sorted[sorted.Length / 2];
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Retro.sln"))) return dir.FullName;
        throw new InvalidOperationException("Retro.sln not found above " + AppContext.BaseDirectory);
    }

    private static double Arg(string[] args, string name, double fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? double.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture) : fallback;
    }

    private sealed class Result
    {
        public List<double> Latencies { get; } = [];
        public List<double>[] Timings { get; } = TimingNames.Select(_ => new List<double>()).ToArray();
        public List<string> ErrorSamples { get; } = [];
        public int Errors;
        public long Tokens;
        public double Seconds;
        public double MemoryGrowthMiB;
        public int Answers => Latencies.Count;
        public double Rate => Answers / Seconds;
        public double TokensPerSecond => Tokens / Seconds;

        public double Percentile(double p)
        {
            if (Latencies.Count == 0) return double.NaN;
            var sorted = Latencies.Order().ToArray();
            return sorted[Math.Min(sorted.Length - 1, (int)Math.Ceiling(p / 100 * sorted.Length) - 1)];
        }
    }
}
