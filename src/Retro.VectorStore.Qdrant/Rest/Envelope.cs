using System.Text.Json.Serialization;

namespace Retro.VectorStore.Qdrant.Rest;

/// <summary>Qdrant's success envelope: <c>{"result": ..., "status": "ok", "time": seconds}</c>.</summary>
public sealed record QdrantResponse<T>
{
    /// <summary>The operation's result; absent for operations that only acknowledge.</summary>
    public T? Result { get; init; }

    /// <summary>"ok" on success ("accepted" for asynchronous operations).</summary>
    public string? Status { get; init; }

    /// <summary>Server-side processing time in seconds.</summary>
    public double? Time { get; init; }
}

/// <summary>Qdrant's error body: <c>{"status": {"error": "..."}, "time": seconds}</c>.</summary>
public sealed record QdrantErrorResponse
{
    /// <summary>The error's description holder.</summary>
    public QdrantErrorStatus? Status { get; init; }

    /// <summary>Server-side processing time in seconds.</summary>
    public double? Time { get; init; }
}

/// <summary>The <c>status</c> object of an error body.</summary>
public sealed record QdrantErrorStatus
{
    /// <summary>Qdrant's description of the error.</summary>
    public string? Error { get; init; }
}

/// <summary>Result of a write (<c>UpdateResult</c>).</summary>
public sealed record UpdateResult
{
    /// <summary>Sequential number of the operation, when the server reports one.</summary>
    public ulong? OperationId { get; init; }

    /// <summary><c>acknowledged</c>, <c>completed</c> (applied; what <c>wait=true</c> gives) or <c>wait_timeout</c>.</summary>
    [JsonRequired]
    public string Status { get; init; } = "";
}
