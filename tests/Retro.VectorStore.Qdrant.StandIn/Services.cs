using Grpc.Core;
using Qdrant.Client.Grpc;
using QdrantServiceBase = Qdrant.Client.Grpc.Qdrant.QdrantBase;

namespace Retro.VectorStore.Qdrant.StandIn;

/// <summary><c>qdrant.Collections</c>: the calls Retro makes.</summary>
internal sealed class CollectionsService(StandInState state) : Collections.CollectionsBase
{
    public override Task<GetCollectionInfoResponse> Get(GetCollectionInfoRequest request, ServerCallContext context)
    {
        lock (state.Gate) return Task.FromResult(new GetCollectionInfoResponse { Result = state.Collection(request.CollectionName).Info(), Time = 0.0001 });
    }

    public override Task<ListCollectionsResponse> List(ListCollectionsRequest request, ServerCallContext context)
    {
        var response = new ListCollectionsResponse { Time = 0.0001 };
        lock (state.Gate)
            foreach (var c in state.All()) response.Collections.Add(new CollectionDescription { Name = c.Name });
        return Task.FromResult(response);
    }

    public override Task<CollectionOperationResponse> Create(CreateCollection request, ServerCallContext context)
    {
        if (!IsValidName(request.CollectionName)) throw Errors.BadInput($"Collection name `{request.CollectionName}` is not valid");
        lock (state.Gate) state.Add(new StandInCollection(request));
        return Task.FromResult(new CollectionOperationResponse { Result = true, Time = 0.0001 });
    }

    public override Task<CollectionOperationResponse> Delete(DeleteCollection request, ServerCallContext context)
    {
        bool removed;
        lock (state.Gate) removed = state.Remove(request.CollectionName);
        return Task.FromResult(new CollectionOperationResponse { Result = removed, Time = 0.0001 });
    }

    public override Task<CollectionExistsResponse> CollectionExists(CollectionExistsRequest request, ServerCallContext context)
    {
        lock (state.Gate)
            return Task.FromResult(new CollectionExistsResponse { Result = new CollectionExists { Exists = state.Exists(request.CollectionName) }, Time = 0.0001 });
    }

    // Qdrant refuses names with path separators and some punctuation; Retro's spec validation is stricter still.
    private static bool IsValidName(string name) => name.Length is > 0 and <= 255 && name.IndexOfAny(['/', '\\', '*', '<', '>', ':', '|', '?', '\0']) < 0;
}

/// <summary><c>qdrant.Points</c>: the calls Retro makes.</summary>
internal sealed class PointsService(StandInState state) : Points.PointsBase
{
    private static PointsOperationResponse Completed() => new() { Result = new UpdateResult { OperationId = 0, Status = UpdateStatus.Completed }, Time = 0.0001 };

    public override Task<PointsOperationResponse> Upsert(UpsertPoints request, ServerCallContext context)
    {
        lock (state.Gate) state.Collection(request.CollectionName).Upsert(request.Points);
        return Task.FromResult(Completed());
    }

    public override Task<PointsOperationResponse> Delete(DeletePoints request, ServerCallContext context)
    {
        lock (state.Gate) state.Collection(request.CollectionName).Delete(request.Points);
        return Task.FromResult(Completed());
    }

    public override Task<GetResponse> Get(GetPoints request, ServerCallContext context)
    {
        var response = new GetResponse { Time = 0.0001 };
        lock (state.Gate) response.Result.AddRange(state.Collection(request.CollectionName).Get(request));
        return Task.FromResult(response);
    }

    public override Task<CountResponse> Count(CountPoints request, ServerCallContext context)
    {
        lock (state.Gate)
            return Task.FromResult(new CountResponse { Result = new CountResult { Count = state.Collection(request.CollectionName).Count(request.Filter) }, Time = 0.0001 });
    }

    public override Task<ScrollResponse> Scroll(ScrollPoints request, ServerCallContext context)
    {
        var response = new ScrollResponse { Time = 0.0001 };
        lock (state.Gate)
        {
            var (page, next) = state.Collection(request.CollectionName).Scroll(request);
            response.Result.AddRange(page);
            if (next is not null) response.NextPageOffset = next;
        }
        return Task.FromResult(response);
    }

    public override Task<QueryResponse> Query(QueryPoints request, ServerCallContext context)
    {
        var response = new QueryResponse { Time = 0.0001 };
        lock (state.Gate) response.Result.AddRange(state.Collection(request.CollectionName).RunQuery(request));
        return Task.FromResult(response);
    }

    public override Task<PointsOperationResponse> CreateFieldIndex(CreateFieldIndexCollection request, ServerCallContext context)
    {
        lock (state.Gate) state.Collection(request.CollectionName).CreateIndex(request);
        return Task.FromResult(Completed());
    }
}

/// <summary><c>qdrant.Qdrant</c>: the health check (answers without the api-key, as Qdrant's health endpoints do).</summary>
internal sealed class HealthService : QdrantServiceBase
{
    public override Task<HealthCheckReply> HealthCheck(HealthCheckRequest request, ServerCallContext context)
        => Task.FromResult(new HealthCheckReply { Title = "qdrant - vector search engine (Retro stand-in)", Version = "1.19.0" });
}
