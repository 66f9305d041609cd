using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Retro.Api.Tests;

public sealed class StartupTests
{
    [Fact]
    public void A_missing_model_folder_stops_the_start_with_a_message_naming_the_setting()
    {
        var error = FailedStart(b =>
        {
            b.UseSetting("Retro:Models:Encoder", Repo.Fixture("bert-tiny"));
            b.UseSetting("Retro:Models:Reranker", Repo.Fixture("cross-tiny"));
            b.UseSetting("Retro:Models:Decoder", "/nonexistent/retro");
        });
        error.Message.ShouldContain("Retro:Models:Decoder");
        error.Message.ShouldContain("/nonexistent/retro");
        error.Message.ShouldContain("Retro__Models__Decoder");
    }

    [Fact]
    public void A_ranker_folder_is_a_valid_reranker_and_a_folder_with_neither_is_refused()
    {
        // the shipped default: models/ranker holds ranker.json and no weights
        using (var ranked = Service(("Retro:Models:Reranker", Path.Combine(Repo.Root, "models", "ranker")),
                   ("Retro:VectorStore:Path", Path.Combine(Path.GetTempPath(), $"retro-ranker-{Guid.NewGuid():N}"))))
        {
            using var client = ranked.CreateClient();
            ranked.Services.GetRequiredService<Retro.Core.IReranker>().ShouldBeOfType<Retro.Core.Ranking.LexicalRanker>();
        }
        string empty = Directory.CreateTempSubdirectory("retro-no-model-").FullName;
        try
        {
            var error = FailedStart(Settings(("Retro:Models:Reranker", empty)));
            error.Message.ShouldContain("Retro:Models:Reranker");
            error.Message.ShouldContain("config.json");
            error.Message.ShouldContain("ranker.json");
        }
        finally
        {
            Directory.Delete(empty, recursive: true);
        }
    }

    [Fact]
    public void The_repository_appsettings_json_is_the_service_configuration()
    {
        // Regression: the shipped file was added with a path the content root's file provider could not see, and
        // (optional) it was silently ignored: the service ran on code defaults.
        using var shipped = System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(Repo.Root, "appsettings.json")));
        var retrieval = shipped.RootElement.GetProperty("Retro").GetProperty("Retrieval");
        using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            b.UseSetting("Retro:Models:Encoder", Repo.Fixture("bert-tiny"));
            b.UseSetting("Retro:Models:Reranker", Repo.Fixture("cross-tiny"));
            b.UseSetting("Retro:Models:Decoder", Repo.Fixture("retro-tiny"));
            b.UseSetting("Retro:Service:IngestSampleWhenEmpty", "false");
            b.UseSetting("Retro:VectorStore:Path", Path.Combine(Path.GetTempPath(), $"retro-settings-{Guid.NewGuid():N}"));
        });
        var configuration = factory.Services.GetRequiredService<Microsoft.Extensions.Configuration.IConfiguration>();
        configuration["Retro:Retrieval:Mode"].ShouldBe(retrieval.GetProperty("Mode").GetString());
        configuration["Retro:Retrieval:Rerank"]!.ToLowerInvariant().ShouldBe(retrieval.GetProperty("Rerank").GetBoolean() ? "true" : "false");
        var bound = factory.Services.GetRequiredService<Microsoft.Extensions.Options.IOptions<Retro.Core.Options.RetrievalOptions>>().Value;
        bound.Rerank.ShouldBe(retrieval.GetProperty("Rerank").GetBoolean());
        bound.RerankWeight.ShouldBe(retrieval.GetProperty("RerankWeight").GetSingle());
        configuration["Retro:VectorStore:EfConstruction"].ShouldBe(shipped.RootElement.GetProperty("Retro").GetProperty("VectorStore").GetProperty("EfConstruction").GetInt32().ToString());
    }

    [Theory]
    [InlineData(null, false)] // auto with the embedded store: its searches would compete with the prefill for the cores
    [InlineData("true", true)]
    [InlineData("false", false)]
    public void Prompt_retrieval_overlaps_the_prefill_only_where_configured_or_the_store_is_remote(string? setting, bool expected)
    {
        (string, string)[] overlap = setting is null ? [] : [("Retro:Service:OverlapPromptRetrieval", setting)];
        using var factory = Service([("Retro:VectorStore:Path", Path.Combine(Path.GetTempPath(), $"retro-overlap-{Guid.NewGuid():N}")), .. overlap]);
        var generator = factory.Services.GetRequiredService<Retro.Core.IGenerator>().ShouldBeOfType<Retro.Engine.Generation.RetroGenerator>();
        generator.OverlapPromptRetrieval.ShouldBe(expected);
    }

    [Fact]
    public void Invalid_limits_stop_the_start_with_a_message()
    {
        var error = FailedStart(Settings(("Retro:Service:MaxConcurrentRequests", "0")));
        error.Message.ShouldContain("MaxConcurrentRequests");
    }

    /// <summary>The service on the fixture models (no reranker, no sample ingestion) with <paramref name="settings"/> on top.</summary>
    private static WebApplicationFactory<Program> Service(params (string Key, string Value)[] settings) =>
        new WebApplicationFactory<Program>().WithWebHostBuilder(Settings(settings));

    private static Action<IWebHostBuilder> Settings(params (string Key, string Value)[] settings) => b =>
    {
        b.UseSetting("Retro:Models:Encoder", Repo.Fixture("bert-tiny"));
        b.UseSetting("Retro:Models:Decoder", Repo.Fixture("retro-tiny"));
        b.UseSetting("Retro:Models:Reranker", "");
        b.UseSetting("Retro:Service:IngestSampleWhenEmpty", "false");
        foreach (var (key, value) in settings) b.UseSetting(key, value);
    };

    /// <summary>
    /// Starts the service configured by <paramref name="configure"/>, which must stop at validation, and returns why.
    /// WebApplicationFactory races the entry point when the host fails to start: <c>app.Run</c> disposes the host, and
    /// the factory may read its services after that and throw <see cref="ObjectDisposedException"/> instead (the stack of
    /// dotnet/aspnetcore#33494; seen here twice under heavy load). The host logs the failure first ("Hosting failed to
    /// start", with the exception), so in that case the reason is read from its log.
    /// </summary>
    private static OptionsValidationException FailedStart(Action<IWebHostBuilder> configure)
    {
        var log = new StartFailureLog();
        using var factory = new WebApplicationFactory<Program>().WithWebHostBuilder(b =>
        {
            configure(b);
            b.ConfigureLogging(l => l.AddProvider(log));
        });
        try
        {
            factory.CreateClient().Dispose();
        }
        catch (OptionsValidationException e)
        {
            log.Failure.ShouldBeOfType<OptionsValidationException>(); // what the fallback below reads is there
            return e;
        }
        catch (ObjectDisposedException) when (log.Failure is OptionsValidationException logged)
        {
            return logged;
        }
        throw new ShouldAssertException("the service started; it should have stopped at validation");
    }

    /// <summary>Keeps the exception the host logs when it fails to start.</summary>
    private sealed class StartFailureLog : ILoggerProvider
    {
        public Exception? Failure { get; private set; }

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void Dispose() { }

        private sealed class Logger(StartFailureLog log, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                if (logLevel >= LogLevel.Error && exception is not null && category.StartsWith("Microsoft.Extensions.Hosting", StringComparison.Ordinal))
                    log.Failure ??= exception;
            }
        }
    }

    [Fact]
    public void An_invalid_qdrant_section_stops_the_start_like_the_other_sections()
    {
        FailedStart(Settings(("Retro:VectorStore:Qdrant:GrpcPort", "70000"))).Message.ShouldContain("GrpcPort");
    }

    [Fact]
    public async Task The_qdrant_section_reaches_the_store()
    {
        // The url's port is wrong on purpose: only the section's gRPC port reaches the stand-in.
        await using var qdrant = await Retro.VectorStore.Qdrant.StandIn.QdrantStandIn.StartAsync();
        using var factory = Service(("Retro:VectorStore:Provider", "Qdrant"), ("Retro:VectorStore:QdrantUrl", "http://127.0.0.1:1"),
            ("Retro:VectorStore:Collection", "from-settings"),
            ("Retro:VectorStore:Qdrant:GrpcPort", qdrant.Url.Port.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        using var client = factory.CreateClient(); // start-up opens the collection
        var store = factory.Services.GetRequiredService<Retro.Core.IVectorStore>();
        store.ShouldBeOfType<Retro.VectorStore.Qdrant.QdrantVectorStore>();
        (await store.IsHealthyAsync()).ShouldBeTrue();
        qdrant.CollectionNames.ShouldContain("from-settings");
    }
}
