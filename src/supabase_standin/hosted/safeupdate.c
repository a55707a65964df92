/*
 * The stand-in's own safeupdate: refuse an UPDATE or a DELETE that has no WHERE clause.
 *
 * Hosted Supabase preloads the pg-safeupdate module in every session of `authenticator`,
 * the role the Data API connects as (session_preload_libraries). Debian does not package
 * it, so the local stack builds this file instead. It is written from that module's
 * documented behaviour, which the official clients see through PostgREST:
 *
 *   - every statement of the session is checked right after parse analysis, which
 *     includes the statements inside SQL and PL/pgSQL functions the session runs;
 *   - a top-level UPDATE or DELETE, or one in a data-modifying WITH query, without a
 *     WHERE clause raises SQLSTATE 21000 (cardinality_violation) with the message
 *     "UPDATE requires a WHERE clause" or "DELETE requires a WHERE clause", no detail,
 *     no hint (PostgREST answers 400 for exactly these messages);
 *   - `WHERE true` is a WHERE clause, so a caller who means every row says so;
 *   - the superuser-only setting safeupdate.enabled (default on) turns the check off.
 *
 * Built by supabase_standin.hosted.modules with the server headers of the cluster's
 * PostgreSQL (15, 16 and 17 share the hook's signature).
 */
#include "postgres.h"

#include "fmgr.h"
#include "nodes/parsenodes.h"
#include "parser/analyze.h"
#include "utils/guc.h"

PG_MODULE_MAGIC;

void		_PG_init(void);

static bool require_where = true;
static post_parse_analyze_hook_type chained_hook = NULL;

/* Raise 21000 when `query`, or a data-modifying WITH query of it, changes every row. */
static void
refuse_unqualified(Query *query)
{
	ListCell   *cell;

	if (query->hasModifyingCTE)
	{
		foreach(cell, query->cteList)
		{
			CommonTableExpr *cte = lfirst_node(CommonTableExpr, cell);

			refuse_unqualified(castNode(Query, cte->ctequery));
		}
	}

	if (query->commandType != CMD_UPDATE && query->commandType != CMD_DELETE)
		return;
	if (query->jointree == NULL || query->jointree->quals != NULL)
		return;

	ereport(ERROR,
			(errcode(ERRCODE_CARDINALITY_VIOLATION),
			 errmsg("%s requires a WHERE clause",
					query->commandType == CMD_UPDATE ? "UPDATE" : "DELETE")));
}

static void
after_parse_analysis(ParseState *pstate, Query *query, JumbleState *jstate)
{
	if (require_where)
		refuse_unqualified(query);
	if (chained_hook != NULL)
		chained_hook(pstate, query, jstate);
}

void
_PG_init(void)
{
	DefineCustomBoolVariable("safeupdate.enabled",
							 "Refuse UPDATE and DELETE statements without a WHERE clause.",
							 NULL,
							 &require_where,
							 true,
							 PGC_SUSET,
							 0,
							 NULL, NULL, NULL);
	MarkGUCPrefixReserved("safeupdate");

	chained_hook = post_parse_analyze_hook;
	post_parse_analyze_hook = after_parse_analysis;
}
