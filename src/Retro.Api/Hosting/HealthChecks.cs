using Microsoft.Extensions.Diagnostics.HealthChecks;
using Retro.Api.Apis.Contracts;
using Retro.Core;

namespace Retro.Api.Hosting;

/// <summary>Healthy once the encoder, reranker and decoder are loaded (resolving them loads them).</summary>
internal sealed class ModelsHealthCheck(IServiceProvider services) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var ids = services.GetRequiredService<ModelIds>();
            return Task.FromResult(HealthCheckResult.Healthy("Models loaded", new Dictionary<string, object>
            {
                ["encoder"] = ids.Encoder,
                ["reranker"] = ids.Reranker ?? "(none)",
                ["decoder"] = ids.Decoder,
            }));
        }
        catch (Exception e)
        {
            return Task.FromResult(HealthCheckResult.Unhealthy("Models failed to load: " + e.Message));
        }
    }
}

/// <summary>Healthy when the vector store answers, with its point count.</summary>
internal sealed class StoreHealthCheck(IVectorStore store) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (!await store.IsHealthyAsync(cancellationToken)) return HealthCheckResult.Unhealthy("Vector store unreachable");
        try
        {
            long count = await store.CountAsync(cancellationToken);
            return HealthCheckResult.Healthy("Vector store reachable", new Dictionary<string, object> { ["points"] = count });
        }
        catch (VectorStoreUnavailableException e)
        {
            return HealthCheckResult.Unhealthy("Vector store unreachable: " + e.Message);
        }
    }
}
