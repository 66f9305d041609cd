using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.Timeouts;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.VectorData;
using Microsoft.Extensions.Options;
using Retro.Api.Apis;
using Retro.Api.Apis.Contracts;
using Retro.Api.Hosting;
using Retro.Api.Infrastructure;
using Retro.Api.Options;
using Retro.Api.Telemetry;
using Retro.Core;
using Retro.Core.Options;
using Retro.Engine.Generation;
using Retro.Engine.Models;
using Retro.Hosting;
using Retro.VectorData;
using Retro.VectorStore.Qdrant;

namespace Retro.Api.Extensions;

/// <summary>The service's components: options, models, store, retriever, generator, limits and error mapping.</summary>
public static class RetroServicesExtensions
{
    /// <summary>
    /// Registers every options section (validated at start-up), the models named by <c>Retro:Models</c> (loaded once,
    /// at start-up), the vector store of <c>Retro:VectorStore</c>, the retriever and the RETRO generator (also as
    /// <see cref="IChatClient"/> and <see cref="IEmbeddingGenerator{TInput, TEmbedding}"/>), the store as a VectorData
    /// collection (<see cref="RetroChunkCollection"/>), the concurrency limit,
    /// the request timeout, the body limit and the exception-to-problem mapping.
    /// </summary>
    public static WebApplicationBuilder AddRetroServices(this WebApplicationBuilder builder)
    {
        var services = builder.Services;
        AddValidatedOptions<ServiceOptions>(services, ServiceOptions.Section);
        AddValidatedOptions<ModelOptions>(services, ModelOptions.Section);
        AddValidatedOptions<EngineOptions>(services, EngineOptions.Section);
        AddValidatedOptions<VectorStoreOptions>(services, VectorStoreOptions.Section);
        AddValidatedOptions<QdrantOptions>(services, QdrantOptions.Section);
        AddValidatedOptions<RetrievalOptions>(services, RetrievalOptions.Section);
        AddValidatedOptions<GenerationOptions>(services, GenerationOptions.Section);
        AddValidatedOptions<ChunkingOptions>(services, ChunkingOptions.Section);
        services.AddSingleton<IValidateOptions<ModelOptions>, ModelFoldersValidator>();
        services.AddSingleton<IValidateOptions<RetrievalOptions>, RetrievalOptionsValidator>();
        services.AddSingleton(sp => new RepositoryPaths(sp.GetRequiredService<IHostEnvironment>().ContentRootPath));

        // Models: loaded together, once; each seam resolves to its part so tests can replace any of them.
        services.AddSingleton(ServiceModels.Load);
        services.AddSingleton<ITextEncoder>(sp => sp.GetRequiredService<RetroModels>().Encoder);
        services.AddSingleton<IReranker>(sp => sp.GetRequiredService<RetroModels>().Reranker!); // null when none is configured
        services.AddSingleton<IRetroDecoder>(sp => sp.GetRequiredService<RetroModels>().Decoder);
        services.AddSingleton<IGenerator>(sp => new RetroGenerator(sp.GetRequiredService<IRetroDecoder>())
        {
            OverlapPromptRetrieval = sp.GetRequiredService<IOptions<ServiceOptions>>().Value.OverlapPromptRetrieval
                                     ?? sp.GetRequiredService<IOptions<VectorStoreOptions>>().Value.Provider != VectorStoreProvider.Embedded,
        });
        services.AddSingleton<IVectorStore>(sp =>
        {
            var store = sp.GetRequiredService<IOptions<VectorStoreOptions>>().Value;
            return VectorStores.Open(store with { Path = sp.GetRequiredService<RepositoryPaths>().Resolve(store.Path) },
                sp.GetRequiredService<IOptions<QdrantOptions>>().Value, loggers: sp.GetRequiredService<ILoggerFactory>());
        });
        services.AddSingleton<IRetriever>(sp =>
        {
            var store = sp.GetRequiredService<IVectorStore>();
            var reranker = sp.GetService<IReranker>();
            return new Retriever(sp.GetRequiredService<ITextEncoder>(), store, store, reranker is null ? null : new InstrumentedReranker(reranker));
        });
        services.AddSingleton(sp => new ModelIds(
            sp.GetRequiredService<ITextEncoder>().ModelId, sp.GetService<IReranker>()?.ModelId, sp.GetRequiredService<IGenerator>().ModelId));
        services.AddSingleton<IChatClient>(sp => new RetroChatClient(
            sp.GetRequiredService<IGenerator>(), sp.GetRequiredService<IRetriever>(),
            sp.GetRequiredService<IOptions<GenerationOptions>>().Value, sp.GetRequiredService<IOptions<RetrievalOptions>>().Value));
        // The store as a Microsoft.Extensions.VectorData collection (Semantic Kernel, M.E.AI): search and upsert chunks.
        services.AddSingleton<VectorStoreCollection<Guid, ChunkRecord>>(sp => new RetroChunkCollection(
            sp.GetRequiredService<IVectorStore>(), sp.GetRequiredService<ITextEncoder>(), sp.GetRequiredService<IRetroDecoder>().Tokenizer));
        services.AddSingleton<IEmbeddingGenerator<string, Embedding<float>>>(sp => new TextEncoderEmbeddingGenerator(sp.GetRequiredService<ITextEncoder>()));
        services.AddHostedService<StartupService>();

        // Limits and errors.
        services.AddRateLimiter(limiter =>
        {
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.AddPolicy(QuestionApi.ConcurrencyPolicy, context =>
            {
                var options = context.RequestServices.GetRequiredService<IOptions<ServiceOptions>>().Value;
                return RateLimitPartition.GetConcurrencyLimiter("all", _ => new ConcurrencyLimiterOptions
                {
                    PermitLimit = options.MaxConcurrentRequests,
                    QueueLimit = options.QueueLimit,
                    QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                });
            });
            limiter.OnRejected = RejectAsync;
        });
        services.AddRequestTimeouts();
        services.AddSingleton<IConfigureOptions<RequestTimeoutOptions>, ConfigureTimeouts>();
        services.AddSingleton<IConfigureOptions<KestrelServerOptions>, ConfigureKestrel>();
        services.AddExceptionHandler<StoreUnavailableExceptionHandler>();
        services.AddExceptionHandler<BadRequestExceptionHandler>();
        return builder;
    }

    private static void AddValidatedOptions<T>(IServiceCollection services, string section) where T : class
        => services.AddOptions<T>().BindConfiguration(section).ValidateDataAnnotations().ValidateOnStart();

    private static async ValueTask RejectAsync(OnRejectedContext context, CancellationToken cancellationToken)
    {
        var http = context.HttpContext;
        var options = http.RequestServices.GetRequiredService<IOptions<ServiceOptions>>().Value;
        RetroTelemetry.Rejected.Add(1);
        http.Response.StatusCode = StatusCodes.Status429TooManyRequests;
        http.Response.Headers.RetryAfter = options.RetryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        await WriteProblemAsync(http, StatusCodes.Status429TooManyRequests, "Too many requests",
            $"{options.MaxConcurrentRequests} requests are being served and {options.QueueLimit} are waiting; retry after {options.RetryAfterSeconds} s.");
    }

    /// <summary>Answers with problem details (the status code must be set already, as the limiters do).</summary>
    private static ValueTask WriteProblemAsync(HttpContext http, int status, string title, string detail) =>
        http.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
        {
            HttpContext = http,
            ProblemDetails = { Status = status, Title = title, Detail = detail },
        });

    private sealed class ConfigureTimeouts(IOptions<ServiceOptions> service) : IConfigureOptions<RequestTimeoutOptions>
    {
        public void Configure(RequestTimeoutOptions options) => options.DefaultPolicy = new RequestTimeoutPolicy
        {
            Timeout = TimeSpan.FromSeconds(service.Value.RequestTimeoutSeconds),
            TimeoutStatusCode = StatusCodes.Status504GatewayTimeout,
            WriteTimeoutResponse = async context => await WriteProblemAsync(context, StatusCodes.Status504GatewayTimeout, "Request timed out",
                $"The request took longer than {service.Value.RequestTimeoutSeconds} s."),
        };
    }

    private sealed class ConfigureKestrel(IOptions<ServiceOptions> service) : IConfigureOptions<KestrelServerOptions>
    {
        public void Configure(KestrelServerOptions options) => options.Limits.MaxRequestBodySize = service.Value.MaxRequestBodyBytes;
    }
}
