-- WATS schema, part 10: storage, and the policies on storage.objects (one per role and
-- action, covering both buckets):
--
--   product-images  public: anyone reads it; only the owning vendor (or an admin) writes
--                   under <vendor_id>/... ;
--   return-photos   private: a customer uploads photos of an item they return under
--                   <their user id>/... ; the customer, the vendor of a return that names the
--                   photo, and admins read them.
--
-- The bucket settings match [storage.buckets.*] in supabase/config.toml.

insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values (
    'product-images',
    'product-images',
    true,
    5242880,
    array['image/png', 'image/jpeg', 'image/webp']
)
on conflict (id) do update
    set
        public = excluded.public,
        file_size_limit = excluded.file_size_limit,
        allowed_mime_types = excluded.allowed_mime_types;

insert into storage.buckets (id, name, public, file_size_limit, allowed_mime_types)
values (
    'return-photos',
    'return-photos',
    false,
    5242880,
    array['image/png', 'image/jpeg', 'image/webp']
)
on conflict (id) do update
    set
        public = excluded.public,
        file_size_limit = excluded.file_size_limit,
        allowed_mime_types = excluded.allowed_mime_types;

create index returns_photo_paths_idx on public.returns using gin (photo_paths);

create function private.is_own_folder(p_object_name text)
returns boolean
language plpgsql
stable
set search_path = ''
as $$
begin
    return coalesce((storage.foldername(p_object_name))[1] = (select auth.uid())::text, false);
end;
$$;

comment on function private.is_own_folder(text) is
'True when the first folder of storage object name p_object_name is the current user''s id: '
'<user_id>/<anything>.';

create function private.can_read_return_photo(p_object_name text)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    return private.is_own_folder(p_object_name)
        or private.is_admin()
        or exists (
            select 1
            from public.returns as r
            where r.photo_paths @> array[p_object_name]
                and r.vendor_id = any(private.managed_vendor_ids())
        );
end;
$$;

comment on function private.can_read_return_photo(text) is
'Who sees a return photo: the customer who uploaded it (their own folder), admins, and the '
'vendor of a return that names it.';

grant execute on function private.is_own_folder(text) to authenticated, service_role;
grant execute on function private.can_read_return_photo(text) to anon, authenticated, service_role;

create function private.can_manage_vendor_folder(p_object_name text)
returns boolean
language plpgsql
stable
security definer
set search_path = ''
as $$
begin
    return (
        select coalesce(
            (storage.foldername(p_object_name))[1]
            = any(array(select v::text from unnest(private.managed_vendor_ids()) as v)),
            false
        )
    );
end;
$$;

comment on function private.can_manage_vendor_folder(text) is
'True when the first folder of storage object name p_object_name is the id of a vendor the '
'current user manages (owns, or any vendor for an admin): <vendor_id>/<anything>.';

grant execute on function private.can_manage_vendor_folder(text) to authenticated, service_role;

create policy "anyone reads product images, return photos their customer, vendor and admins"
on storage.objects
for select
to anon, authenticated
using (
    bucket_id = 'product-images'
    or (bucket_id = 'return-photos' and private.can_read_return_photo(name))
);

create policy "vendors upload product images, customers return photos, into their folder"
on storage.objects
for insert
to authenticated
with check (
    (bucket_id = 'product-images' and private.can_manage_vendor_folder(name))
    or (bucket_id = 'return-photos' and private.is_own_folder(name))
);

create policy "vendors replace product images, customers return photos, in their folder"
on storage.objects
for update
to authenticated
using (
    (bucket_id = 'product-images' and private.can_manage_vendor_folder(name))
    or (bucket_id = 'return-photos' and private.is_own_folder(name))
)
with check (
    (bucket_id = 'product-images' and private.can_manage_vendor_folder(name))
    or (bucket_id = 'return-photos' and private.is_own_folder(name))
);

create policy "vendors delete product images, customers return photos, in their folder"
on storage.objects
for delete
to authenticated
using (
    (bucket_id = 'product-images' and private.can_manage_vendor_folder(name))
    or (bucket_id = 'return-photos' and private.is_own_folder(name))
);

-- Nothing in `private` is executable unless granted by name above.
revoke execute on all functions in schema private from public;
