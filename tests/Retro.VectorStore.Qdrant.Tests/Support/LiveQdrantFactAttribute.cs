namespace Retro.VectorStore.Qdrant.Tests.Support;

/// <summary>
/// A fact that runs only against a real Qdrant: skipped (never passed) unless <c>QDRANT_URL</c> is set
/// (optional <c>QDRANT_API_KEY</c>).
/// </summary>
public sealed class LiveQdrantFactAttribute : FactAttribute
{
    public LiveQdrantFactAttribute()
    {
        if (LiveQdrant.Url is null) Skip = LiveQdrant.SkipReason;
    }
}

/// <summary>Where the live server is, from the environment.</summary>
public static class LiveQdrant
{
    public const string SkipReason = "QDRANT_URL is not set: no live Qdrant server to test against";

    public static string? Url => Environment.GetEnvironmentVariable("QDRANT_URL") is { Length: > 0 } url ? url : null;

    public static string? ApiKey => Environment.GetEnvironmentVariable("QDRANT_API_KEY") is { Length: > 0 } key ? key : null;

    public static Retro.Core.VectorStoreOptions Options() => new()
    {
        Provider = Retro.Core.VectorStoreProvider.Qdrant,
        QdrantUrl = Url ?? throw new InvalidOperationException(SkipReason),
        ApiKey = ApiKey,
        TimeoutSeconds = 30,
    };

    /// <summary>A collection name no other run uses.</summary>
    public static string UniqueCollection(string prefix) => $"{prefix}_{Guid.NewGuid():N}";
}
