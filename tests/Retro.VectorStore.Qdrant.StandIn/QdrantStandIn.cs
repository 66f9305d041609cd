using System.Collections.Concurrent;
using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Retro.VectorStore.Qdrant.StandIn;

/// <summary>
/// An in-process stand-in for a Qdrant server: a real gRPC server (Kestrel, HTTP/2, on a loopback port; TLS with a
/// self-signed certificate when asked) whose service bases Grpc.Tools generated from Qdrant's own protocol files, with
/// the calls Retro makes implemented in memory with Qdrant's semantics: collections (vectors, sparse vectors with the
/// IDF modifier, payload indexes, metadata), upsert, get, delete by ids or filter, count, scroll in id order, query
/// (exact dense nearest neighbours, sparse with <c>using</c>, prefetches fused by RRF), filters, the health check, the
/// <c>api-key</c> and Qdrant's error statuses and texts. <b>A test double, not Qdrant</b>: HNSW recall, durability and
/// clustering are only exercised by the live suites. Calls it does not implement answer <c>UNIMPLEMENTED</c>.
/// </summary>
public sealed class QdrantStandIn : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly StandInState _state;

    private QdrantStandIn(WebApplication app, StandInState state, Uri url, string? certificateThumbprint)
    {
        _app = app;
        _state = state;
        Url = url;
        CertificateThumbprint = certificateThumbprint;
    }

    /// <summary>
    /// Starts a stand-in on a free loopback port. With <paramref name="apiKey"/>, calls without that <c>api-key</c> fail
    /// as Qdrant's do (<c>UNAUTHENTICATED</c>). With <paramref name="tls"/>, it serves HTTPS with a fresh self-signed
    /// certificate (see <see cref="CertificateThumbprint"/>).
    /// </summary>
    public static async Task<QdrantStandIn> StartAsync(string? apiKey = null, bool tls = false)
    {
        var state = new StandInState { ApiKey = apiKey };
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        X509Certificate2? certificate = tls ? SelfSigned() : null;
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Loopback, 0, listen =>
        {
            listen.Protocols = HttpProtocols.Http2;
            if (certificate is not null) listen.UseHttps(certificate);
        }));
        builder.Services.AddSingleton(state);
        builder.Services.AddGrpc(options =>
        {
            options.Interceptors.Add<StandInInterceptor>();
            options.MaxReceiveMessageSize = null;
            options.EnableDetailedErrors = false;
        });
        var app = builder.Build();
        app.MapGrpcService<CollectionsService>();
        app.MapGrpcService<PointsService>();
        app.MapGrpcService<HealthService>();
        await app.StartAsync().ConfigureAwait(false);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        var port = new Uri(address).Port;
        var url = new Uri($"{(tls ? "https" : "http")}://127.0.0.1:{port}");
        return new QdrantStandIn(app, state, url, certificate?.GetCertHashString(HashAlgorithmName.SHA256));
    }

    /// <summary>Where it listens, e.g. <c>http://127.0.0.1:41234</c> (gRPC on this very port).</summary>
    public Uri Url { get; }

    /// <summary>SHA-256 thumbprint of the self-signed certificate when started with TLS, else null.</summary>
    public string? CertificateThumbprint { get; }

    /// <summary>The API key calls must carry, or null for none.</summary>
    public string? ApiKey => _state.ApiKey;

    /// <summary>Names of the collections, in no order.</summary>
    public IReadOnlyCollection<string> CollectionNames => _state.CollectionNames();

    /// <summary>Every call received so far, in order (rejected ones included).</summary>
    public IReadOnlyList<ReceivedCall> Calls => _state.Calls.ToArray();

    /// <summary>
    /// Fault injection: asked before each call with its method (e.g. <c>/qdrant.Points/Upsert</c>); a non-null answer
    /// makes the call fail (or hang) instead of running. Set to null to stop injecting.
    /// </summary>
    public Func<string, CallFault?>? Fault
    {
        get => _state.Fault;
        set => _state.Fault = value;
    }

    /// <summary>Stops listening: later calls fail as against a server that is down.</summary>
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private static X509Certificate2 SelfSigned()
    {
        using var key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=qdrant-stand-in", key, HashAlgorithmName.SHA256);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }
}

/// <summary>A call the stand-in received: its method, whether the api-key matched, and the request as Qdrant's JSON (protobuf JSON mapping).</summary>
public sealed record ReceivedCall(string Method, string? ApiKey, string RequestJson, int RequestBytes);

/// <summary>An injected failure: the status (and optional <c>retry-after</c> trailer, in seconds) to answer with, or a hang until the caller gives up.</summary>
public sealed record CallFault(StatusCode Status, string Detail, int? RetryAfterSeconds = null, bool Hang = false)
{
    /// <summary>Never answers: waits until the call is cancelled (a hung server).</summary>
    public static CallFault Hung { get; } = new(StatusCode.DeadlineExceeded, "", Hang: true);
}

/// <summary>State shared by the services: collections and the call log.</summary>
internal sealed class StandInState
{
    private readonly Dictionary<string, StandInCollection> _collections = new(StringComparer.Ordinal);

    public string? ApiKey { get; init; }
    public Func<string, CallFault?>? Fault { get; set; }
    public ConcurrentQueue<ReceivedCall> Calls { get; } = new();

    /// <summary>All state changes and reads hold this lock: the stand-in is for correctness, not speed.</summary>
    public object Gate { get; } = new();

    public IReadOnlyCollection<string> CollectionNames()
    {
        lock (Gate) return [.. _collections.Keys];
    }

    public StandInCollection Collection(string name)
    {
        if (string.IsNullOrEmpty(name)) throw Errors.BadInput("Collection name is empty");
        return _collections.TryGetValue(name, out var c) ? c : throw Errors.NotFound($"Collection `{name}` doesn't exist!");
    }

    public bool Exists(string name) => _collections.ContainsKey(name);

    public void Add(StandInCollection collection)
    {
        if (!_collections.TryAdd(collection.Name, collection)) throw Errors.AlreadyExists($"Collection `{collection.Name}` already exists!");
    }

    public bool Remove(string name) => _collections.Remove(name);

    public IEnumerable<StandInCollection> All() => _collections.Values;
}

/// <summary>Checks the api-key (as Qdrant does), logs the call and applies injected faults.</summary>
internal sealed class StandInInterceptor(StandInState state) : Grpc.Core.Interceptors.Interceptor
{
    private static readonly JsonFormatter Json = new(JsonFormatter.Settings.Default.WithFormatDefaultValues(false));

    public override async Task<TResponse> UnaryServerHandler<TRequest, TResponse>(TRequest request, ServerCallContext context, UnaryServerMethod<TRequest, TResponse> continuation)
    {
        string? key = context.RequestHeaders.GetValue("api-key");
        var message = (IMessage)request;
        state.Calls.Enqueue(new ReceivedCall(context.Method, key, Json.Format(message), message.CalculateSize()));
        if (state.ApiKey is { } expected && context.Method != "/qdrant.Qdrant/HealthCheck")
        {
            if (key is null) throw new RpcException(new Status(StatusCode.Unauthenticated, "Must provide an API key or an Authorization bearer token"));
            if (key != expected) throw new RpcException(new Status(StatusCode.Unauthenticated, "Invalid API key or JWT"));
        }
        if (state.Fault?.Invoke(context.Method) is { } fault)
        {
            if (fault.Hang)
            {
                await Task.Delay(Timeout.Infinite, context.CancellationToken).ConfigureAwait(false);
            }
            var trailers = new Metadata();
            if (fault.RetryAfterSeconds is { } seconds) trailers.Add("retry-after", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
            throw new RpcException(new Status(fault.Status, fault.Detail), trailers);
        }
        return await continuation(request, context).ConfigureAwait(false);
    }
}

/// <summary>Qdrant's gRPC error statuses and texts (its <c>StorageError</c> → tonic mapping).</summary>
internal static class Errors
{
    public static RpcException BadInput(string description) => new(new Status(StatusCode.InvalidArgument, $"Wrong input: {description}"));
    public static RpcException BadRequest(string description) => new(new Status(StatusCode.InvalidArgument, $"Bad request: {description}"));
    public static RpcException NotFound(string description) => new(new Status(StatusCode.NotFound, $"Not found: {description}"));
    public static RpcException AlreadyExists(string description) => new(new Status(StatusCode.AlreadyExists, $"Wrong input: {description}"));
    public static RpcException Unimplemented(string what) => new(new Status(StatusCode.Unimplemented, $"The Qdrant stand-in does not implement {what}"));
}
