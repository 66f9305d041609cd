using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;
using Retro.Api.Tests.Doubles;
using Retro.Core;
using Retro.Engine.Generation;

namespace Retro.Api.Tests;

/// <summary>
/// The service in memory with doubles at the seams (hashing encoder, overlap reranker, brute-force store, scripted
/// decoder with the real chunk rules); the HTTP pipeline, options, limits and generation loop are the real ones.
/// </summary>
public sealed class RetroApiFactory : WebApplicationFactory<Program>
{
    private readonly Dictionary<string, string?> _settings;

    public RetroApiFactory() : this(null) { }

    internal RetroApiFactory(Dictionary<string, string?>? settings)
    {
        _settings = new Dictionary<string, string?>
        {
            ["Retro:Models:Encoder"] = Repo.Fixture("bert-tiny"),
            ["Retro:Models:Reranker"] = Repo.Fixture("cross-tiny"),
            ["Retro:Models:Decoder"] = Repo.Fixture("retro-tiny"),
            ["Retro:Service:IngestSampleWhenEmpty"] = "false",
            // The tests pin the retrieval defaults they exercise; the shipped appsettings.json picks what measures
            // best for the shipped models (see models/README.md).
            ["Retro:Retrieval:Mode"] = "Dense",
            ["Retro:Retrieval:Rerank"] = "true",
            ["Retro:Retrieval:RerankWeight"] = "1", // the cross-encoder's order, which the tests check by its scores
        };
        foreach (var (k, v) in settings ?? []) _settings[k] = v;
        Store = MemoryVectorStore.WithSampleDocuments(Encoder, Decoder.Tokenizer);
    }

    internal HashingEncoder Encoder { get; } = new();
    internal ScriptedDecoder Decoder { get; } = new();
    internal MemoryVectorStore Store { get; }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Testing");
        foreach (var (k, v) in _settings) builder.UseSetting(k, v);
        builder.ConfigureTestServices(services =>
        {
            services.AddSingleton<ITextEncoder>(Encoder);
            services.AddSingleton<IReranker>(new OverlapReranker());
            services.AddSingleton<IRetroDecoder>(Decoder);
            services.AddSingleton<IVectorStore>(Store);
        });
    }
}

internal static class Repo
{
    public static readonly string Root = Find();

    public static string Fixture(string name) => Path.Combine(Root, "tests", "fixtures", name);

    /// <summary>The real stack on the fixture models: embedded store at <paramref name="store"/>, sample corpus <paramref name="corpus"/>.</summary>
    public static void UseFixtureStack(Microsoft.AspNetCore.Hosting.IWebHostBuilder builder, string store, string corpus)
    {
        builder.UseEnvironment("Testing");
        builder.UseSetting("Retro:Models:Encoder", Fixture("bert-tiny"));
        builder.UseSetting("Retro:Models:Reranker", Fixture("cross-tiny"));
        builder.UseSetting("Retro:Models:Decoder", Fixture("retro-tiny"));
        builder.UseSetting("Retro:VectorStore:Path", store);
        builder.UseSetting("Retro:Service:SampleCorpus", corpus);
    }

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Retro.sln"))) return dir.FullName;
        throw new InvalidOperationException("Retro.sln not found above " + AppContext.BaseDirectory);
    }
}
