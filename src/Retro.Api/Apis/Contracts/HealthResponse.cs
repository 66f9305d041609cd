namespace Retro.Api.Apis.Contracts;

/// <summary>Result of <c>/alive</c> and <c>/health</c>.</summary>
/// <param name="Status"><c>Healthy</c>, <c>Degraded</c> or <c>Unhealthy</c>.</param>
/// <param name="Checks">Each check by name (empty for <c>/alive</c>).</param>
public sealed record HealthResponse(string Status, IReadOnlyDictionary<string, HealthCheckInfo> Checks);

/// <summary>One health check's outcome.</summary>
/// <param name="Status"><c>Healthy</c>, <c>Degraded</c> or <c>Unhealthy</c>.</param>
/// <param name="Description">What it found.</param>
/// <param name="Data">Details (model ids, point count).</param>
public sealed record HealthCheckInfo(string Status, string? Description, IReadOnlyDictionary<string, object> Data);
