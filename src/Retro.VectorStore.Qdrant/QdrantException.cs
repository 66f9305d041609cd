using Grpc.Core;

namespace Retro.VectorStore.Qdrant;

/// <summary>
/// Qdrant answered a call with an error status. <see cref="Error"/> is Qdrant's own text (the gRPC status detail, e.g.
/// "Wrong input: Vector dimension error: expected dim: 4, got 3").
/// </summary>
public sealed class QdrantException : Exception
{
    /// <summary>An error answer <paramref name="statusCode"/> to <paramref name="operation"/> with Qdrant's text <paramref name="error"/>.</summary>
    public QdrantException(StatusCode statusCode, string operation, string error, Exception? innerException = null)
        : base($"Qdrant {operation} failed with {statusCode}: {error}", innerException)
    {
        StatusCode = statusCode;
        Operation = operation;
        Error = error;
    }

    /// <summary>gRPC status of the answer.</summary>
    public StatusCode StatusCode { get; }

    /// <summary>Service and method of the call, e.g. <c>Points/Upsert</c> (never metadata: the API key stays out).</summary>
    public string Operation { get; }

    /// <summary>Qdrant's error text (empty when the status carried none).</summary>
    public string Error { get; }
}
