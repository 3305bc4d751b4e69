"""The names the benchmarks drive the system by, in one place: a renamed function, handler, queue or
environment variable is one line here."""

DISPATCH_FUNCTION, DISPATCH_MODULE = "BriefDispatch", "brief_dispatch"
SEND_FUNCTION, SEND_MODULE = "SendPushes", "send_pushes"
SEND_SERVICE = "qunyun.services.brief_push"  # where SendPushes calls render_brief (timed by the briefs benchmark)
SEND_QUEUE, SEND_QUEUE_ENV = "PushQueue", "PUSH_QUEUE_URL"
PAGE_QUEUE, PAGE_QUEUE_ENV = "DispatchPageQueue", "DISPATCH_PAGE_QUEUE_URL"  # BriefDispatch's pages of a slot
POINTS_FUNCTION, POINTS_MODULE = "PointsApi", "points_api"
SETTLE_FUNCTION, SETTLE_MODULE = "SettlePoints", "settle_points"
MALL_FUNCTION, MALL_MODULE = "MallApi", "mall_api"
PAGES_FUNCTION, PAGES_MODULE = "PageEarnings", "page_earnings"  # the points table's stream, paged by day
QUEUE_ADAPTER = "qunyun.adapters.push_queue"  # PushQueue, what the dispatcher queues on
CHECKPOINT_ADAPTER = "qunyun.adapters.dispatch_checkpoint"  # DispatchCheckpoint, the dispatcher's place in the day
